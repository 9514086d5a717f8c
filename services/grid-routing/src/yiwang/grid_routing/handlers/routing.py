"""Routing use cases: route the cases received (a grid-tier matter to its grid worker
first), route a returned case again, route a dispute mediation handed back.

Each runs in one unit of work (inbox, routed cases, decisions, outbox) and counts its
decisions once the transaction committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseLeftMediation,
    CaseReceived,
    CaseReturned,
    GridMediatorRef,
    WorkerRole,
)
from yiwang.common.logs import get_logger
from yiwang.common.sla import GRID_DURATION, Duration
from yiwang.common.telemetry import handling
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED
from yiwang.grid_routing import metrics
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.errors import CaseNotRouted
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import place_case, place_cases
from yiwang.grid_routing.domain.route_events import route_events
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import (
    RoutingDecision,
    decide_after_mediation,
    decide_arbitration,
    decide_route,
)
from yiwang.grid_routing.domain.rules import ARBITRATION_AFTER_RETURNS
from yiwang.grid_routing.handlers import grid_tasks

CONSUMER = "grid-routing"
log = get_logger(__name__)


async def route_received_cases(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelopes: Sequence[Envelope[CaseReceived]],
    grid_duration: Duration = GRID_DURATION,
) -> list[str]:
    """Route newly received cases, all in one transaction; the ids of the cases routed.
    A grid-tier matter whose micro-grid has an agent on the roster becomes that worker's
    grid task instead (handlers/grid_tasks.py), due `grid_duration` later.

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
        # 小事不出网格: a grid-tier matter goes to its micro-grid's agent first, if it has one.
        agents = await uow.grid_tasks.agents_for(sorted({c for r in routes if (c := _grid(r))}))
        handed = [(r, agents[c]) for r in routes if (c := _grid(r)) and c in agents]
        in_grid = {r.case.case_id for r, _ in handed}
        # 调解员: a dispute's grid rung is the micro-grid's mediator on the roster.
        disputes = {r.case.case_id: r.decision.micro_grid.code for r in routes
                    if r.decision.to_mediation and r.decision.micro_grid}  # fmt: skip
        found = await uow.grid_tasks.agents_for(sorted(set(disputes.values())), WorkerRole.MEDIATOR)
        mediators = {
            case_id: GridMediatorRef(worker_id=found[code].worker_id, name=found[code].name)
            for case_id, code in disputes.items()
            if code in found
        }
        if not handed:  # the routes are the last writes: they go with the events, at commit
            uow.defer_writes()
        await _record_routes(
            uow,
            [r for r in routes if r.case.case_id not in in_grid],
            index=index,
            clock=clock,
            trigger="received",
            mediators=mediators,
        )
        for route, worker in handed:
            with handling(route.envelope) if route.envelope else nullcontext():
                await grid_tasks.assign_grid_tasks(
                    uow,
                    [(route.case, route.decision, worker)],
                    grid_set=index.version,
                    now=clock.now(),
                    duration=grid_duration,
                )
    metrics.count_decisions((r.decision for r in routes), trigger="received")
    if handed:
        metrics.GRID_TASKS.labels("assigned").inc(len(handed))
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
    second return, send it to the county centre for arbitration. False for a redelivery,
    applied the first time."""
    returned = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        known = await uow.cases.get(returned.case_id)
        if known is None:
            raise CaseNotRouted(returned.case_id)
        case = known.returned_by(returned.department, return_count=returned.return_count)
        decision = _decide_again(case, index=index, matrix=matrix)
        await _record_routes(
            uow, [_Route(None, case, decision)], index=index, clock=clock, trigger="returned"
        )
    metrics.count_decisions([decision], trigger="returned")
    return True


async def route_after_mediation(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelope: Envelope[CaseLeftMediation],
) -> bool:
    """Route a dispute mediation declined, or a party withdrew from, to its category's lead
    department, never to mediation again; not a department's return. False for a
    redelivery, applied the first time."""
    left = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        known = await uow.cases.get(left.case_id)
        if known is None:
            raise CaseNotRouted(left.case_id)
        case = known.left_mediation()
        facts = case.received.case
        placement = place_case(
            facts, index=index, grid_worker_hint=_grid_worker_hint(case.received)
        )
        decision = decide_after_mediation(
            facts, placement=placement, matrix=matrix, outcome=left.outcome,
            attempt=case.attempts + 1,
        )  # fmt: skip
        await _record_routes(
            uow, [_Route(None, case, decision)], index=index, clock=clock, trigger="mediation"
        )
    metrics.count_decisions([decision], trigger="mediation")
    return True


def _decide_again(
    case: RoutedCase, *, index: GridIndex, matrix: ResponsibilityMatrix
) -> RoutingDecision:
    """A returned case's next decision: the next department in line, or arbitration."""
    facts = case.received.case
    placement = place_case(facts, index=index, grid_worker_hint=_grid_worker_hint(case.received))
    attempt = case.attempts + 1
    if case.returns >= ARBITRATION_AFTER_RETURNS:
        return decide_arbitration(
            facts,
            placement=placement,
            matrix=matrix,
            excluded=case.excluded,
            returns=case.returns,
            attempt=attempt,
        )
    return decide_route(
        facts,
        placement=placement,
        matrix=matrix,
        excluded=case.excluded,
        attempt=attempt,
        mediation=not case.mediated,
    )


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


def _grid(route: _Route) -> str | None:
    """The micro-grid a matter would stay in, if it is a grid-tier one."""
    decision = route.decision
    if decision.micro_grid is None or not grid_tasks.stays_in_grid(decision):
        return None
    return decision.micro_grid.code


def _grid_worker_hint(received: CaseReceived) -> str | None:
    return received.grid_worker.micro_grid_hint if received.grid_worker else None


async def _record_routes(
    uow: RoutingUnitOfWork,
    routes: Sequence[_Route],
    *,
    index: GridIndex,
    clock: Clock,
    trigger: str,
    mediators: dict[str, GridMediatorRef] | None = None,
) -> None:
    """The cases, their decisions and their events, a few statements for the lot."""
    if not routes:
        return
    # Checks the transitions before anything is written.
    routed = [r.case.routed(to_mediation=r.decision.to_mediation) for r in routes]
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
        if mediators and route.case.case_id in mediators:
            routed_event = routed_event.model_copy(
                update={"grid_mediator": mediators[route.case.case_id]}
            )
        # In a batch, each case's events carry the trace of the record that brought it.
        with handling(route.envelope) if route.envelope else nullcontext():
            await uow.emit(routed_event, topic=CASE_ROUTED)
            await uow.emit(changed, topic=CASE_LIFECYCLE)
