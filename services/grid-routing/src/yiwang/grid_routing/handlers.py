"""Yiwang grid-routing: use cases, one function each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseReturned, CaseRouted, CaseStateChanged
from yiwang.common.logs import get_logger
from yiwang.common.postgres import handle_once
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import place_case
from yiwang.grid_routing.domain.progress import Progress
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


async def route_received_case(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelope: Envelope[CaseReceived],
) -> bool:
    """Route a newly received case; False if this event was handled before."""
    received = envelope.payload

    async def effects(_: object) -> None:
        if await uow.cases.get(received.case_id) is not None:
            log.warning("case already routed; receipt ignored", case_id=received.case_id)
            return
        case = RoutedCase(received=received)
        hint = received.grid_worker.micro_grid_hint if received.grid_worker else None
        placement = place_case(received.case, index=index, grid_worker_hint=hint)
        decision = decide_route(received.case, placement=placement, matrix=matrix)
        await _record_route(uow, case, decision, index=index, clock=clock, trigger="received")

    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=effects)


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
        hint = case.received.grid_worker.micro_grid_hint if case.received.grid_worker else None
        facts = case.received.case
        placement = place_case(facts, index=index, grid_worker_hint=hint)
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
        await _record_route(uow, case, decision, index=index, clock=clock, trigger="returned")

    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=effects)


async def _record_route(
    uow: RoutingUnitOfWork,
    case: RoutedCase,
    decision: RoutingDecision,
    *,
    index: GridIndex,
    clock: Clock,
    trigger: str,
) -> None:
    routed = case.routed()  # checks the transition before anything is written
    now = clock.now()
    facts = case.received.case
    await uow.cases.save(routed)
    await uow.cases.add_decision(
        case.case_id,
        RecordedDecision(
            decision=decision, grid_set=index.version, trigger=trigger, decided_at=now
        ),
    )
    await uow.emit(
        CaseRouted(
            case_id=case.case_id,
            case=facts,
            micro_grid=decision.micro_grid,
            department_units=decision.department_units,
            lead_department=decision.lead_department,
            assisting_departments=decision.assisting_departments,
            tier=decision.tier,
            sla_class=decision.sla_class,
            to_mediation=decision.to_mediation,
            triage=decision.triage,
            rule_id=decision.rule_id,
            reason=decision.reason,
            excluded_departments=decision.excluded_departments,
            attempt=decision.attempt,
        ),
        topic=CASE_ROUTED,
    )
    await uow.emit(
        CaseStateChanged(
            case_id=case.case_id,
            case_number=facts.case_number,
            from_state=case.state,
            to_state=CaseState.ROUTED,
            actor=CONSUMER,
            note=f"{decision.rule_id}: {decision.reason}",
            at=now,
            department=decision.lead_department,
            township_code=decision.township_code,
            micro_grid=decision.micro_grid.code if decision.micro_grid else None,
            category=facts.category,
            channel=facts.channel,
            priority=facts.priority,
        ),
        topic=CASE_LIFECYCLE,
    )
