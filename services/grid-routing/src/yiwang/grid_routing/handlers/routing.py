"""Yiwang grid-routing: use cases, one function each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseReturned
from yiwang.common.telemetry import handling
from yiwang.common.logs import get_logger
from yiwang.common.postgres import handle_once
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import place_case, place_cases
from yiwang.grid_routing.domain.progress import Progress
from yiwang.grid_routing.domain.route_events import route_events
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import RoutingDecision, decide_arbitration, decide_route
from yiwang.grid_routing.domain.rules import ARBITRATION_AFTER_RETURNS

CONSUMER = "grid-routing"
log = get_logger(__name__)


class NoGridSet(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "no grid set is stored and no bootstrap preset is set; import one with "
            "'python -m yiwang.grid_routing.cli import <files>' or set "
            "GRID_ROUTING_BOOTSTRAP_PRESET"
        )


class CaseNotRouted(LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} was returned but grid-routing never routed it")


async def import_grid_set(
    *,
    grid_sets: GridSetRepository,
    collections: Iterable[tuple[str, Any]],
    label: str,
    source: str,
    repair: bool = False,
    only_if_empty: bool = False,
    progress: Progress | None = None,
) -> int | None:
    """Validate (and repair on request), overlay, store and switch in a new version."""
    network, repairs = await asyncio.to_thread(
        check_grid_set, list(collections), repair=repair, progress=progress
    )
    return await grid_sets.add(
        network,
        label=label,
        source=source,
        repairs=repairs,
        only_if_empty=only_if_empty,
        progress=progress,
    )


async def load_active_grid(*, grid_sets: GridSetRepository, bootstrap_preset: str) -> GridIndex:
    """The active grid set as an index; with none stored, import the bootstrap preset first."""
    loaded = await grid_sets.active()
    if loaded is None and bootstrap_preset:
        version = await import_grid_set(
            grid_sets=grid_sets,
            collections=generate_county(bootstrap_preset).items(),
            label=f"synthetic county, preset {bootstrap_preset}",
            source=f"generator:{bootstrap_preset}",
            only_if_empty=True,
        )
        log.info("bootstrap grid set imported", preset=bootstrap_preset, version=version)
        loaded = await grid_sets.active()
    if loaded is None:
        raise NoGridSet()
    version, network = loaded
    return await asyncio.to_thread(GridIndex, network, version=version)


async def route_received_cases(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelopes: Sequence[Envelope[CaseReceived]],
) -> list[str]:
    """Route newly received cases, all in one transaction; the ids of the cases routed.

    An event handled before, and a case already routed (a receipt redelivered under
    another event id, in an earlier batch or in this one), is left as it is.
    """
    async with uow:
        fresh = await uow.first_deliveries(consumer=CONSUMER, event_ids=[e.id for e in envelopes])
        firsts = _first_receipt_per_case(envelopes, fresh=fresh)
        for case_id in await uow.cases.get_many(list(firsts)):
            log.warning("case already routed; receipt ignored", case_id=case_id)
            del firsts[case_id]
        batch = list(firsts.values())
        placements = place_cases(
            [(e.payload.case, _grid_worker_hint(e.payload)) for e in batch], index=index
        )
        routes = [
            _Route(
                envelope,
                RoutedCase(received=envelope.payload),
                decide_route(envelope.payload.case, placement=placement, matrix=matrix),
            )
            for envelope, placement in zip(batch, placements, strict=True)
        ]
        await _record_routes(uow, routes, index=index, clock=clock, trigger="received")
    return list(firsts)


async def reroute_returned_case(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelope: Envelope[CaseReturned],
) -> bool:
    """Route a returned case again without the departments that returned it; after the
    second return, send it to the county centre for arbitration."""
    returned = envelope.payload

    async def effects(_: object) -> None:
        known = await uow.cases.get(returned.case_id)
        if known is None:
            raise CaseNotRouted(returned.case_id)
        case = known.returned_by(returned.department, return_count=returned.return_count)
        facts = case.received.case
        placement = place_case(
            facts, index=index, grid_worker_hint=_grid_worker_hint(case.received)
        )
        attempt = case.attempts + 1
        if case.returns >= ARBITRATION_AFTER_RETURNS:
            decision = decide_arbitration(
                facts,
                placement=placement,
                matrix=matrix,
                excluded=case.excluded,
                returns=case.returns,
                attempt=attempt,
            )
        else:
            decision = decide_route(
                facts, placement=placement, matrix=matrix, excluded=case.excluded, attempt=attempt
            )
        route = _Route(None, case, decision)
        await _record_routes(uow, [route], index=index, clock=clock, trigger="returned")

    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=effects)


@dataclass(frozen=True, slots=True)
class _Route:
    """A decision about to be recorded; `envelope` set when consumed in a batch."""

    envelope: Envelope[Any] | None
    case: RoutedCase  # as it was before this decision
    decision: RoutingDecision


def _first_receipt_per_case(
    envelopes: Sequence[Envelope[CaseReceived]], *, fresh: set[str]
) -> dict[str, Envelope[CaseReceived]]:
    """Among the events not handled before, each case's first receipt, by case id."""
    firsts: dict[str, Envelope[CaseReceived]] = {}
    unseen = set(fresh)  # the same event twice in one batch counts once
    for envelope in envelopes:
        if envelope.id not in unseen:
            continue
        unseen.discard(envelope.id)
        case_id = envelope.payload.case_id
        if case_id in firsts:  # sent again under another event id
            log.warning("case already routed; receipt ignored", case_id=case_id)
        else:
            firsts[case_id] = envelope
    return firsts


def _grid_worker_hint(received: CaseReceived) -> str | None:
    return received.grid_worker.micro_grid_hint if received.grid_worker else None


async def _record_routes(
    uow: RoutingUnitOfWork,
    routes: Sequence[_Route],
    *,
    index: GridIndex,
    clock: Clock,
    trigger: str,
) -> None:
    """The cases, their decisions and their events, a few statements for the lot."""
    if not routes:
        return
    routed = [r.case.routed() for r in routes]  # checks transitions before anything is written
    now = clock.now()
    await uow.cases.save_many(routed)
    await uow.cases.add_decisions(
        [
            (
                r.case.case_id,
                RecordedDecision(
                    decision=r.decision, grid_set=index.version, trigger=trigger, decided_at=now
                ),
            )
            for r in routes
        ]
    )
    for route in routes:
        routed_event, changed = route_events(route.case, route.decision, actor=CONSUMER, at=now)
        # In a batch, each case's events carry the trace of the record that brought it.
        with handling(route.envelope) if route.envelope else nullcontext():
            await uow.emit(routed_event, topic=CASE_ROUTED)
            await uow.emit(changed, topic=CASE_LIFECYCLE)
