"""Grid tasks leaving the grid (上报): the one way a matter is passed up, by the worker's
hand (handlers/grid_tasks.py), when its grid deadline passes, or when the resident was
unsatisfied with its settlement (不满意重办). The matter is routed as its next attempt,
at township tier, to its category's lead department; dispatch takes it from there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReopened, GridTaskPassedUp
from yiwang.common.sla import GRID_DURATION, Duration
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED, GRID_TASKS
from yiwang.grid_routing import metrics
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.errors import CaseNotRouted
from yiwang.grid_routing.domain.grid_tasks import TIMER, GridTask, GridTaskStatus
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import place_case
from yiwang.grid_routing.domain.route_events import route_events
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import decide_route
from yiwang.grid_routing.domain.rules import Rule

CONSUMER = "grid-routing"
OVERDUE_BATCH = 50


async def pass_up_overdue_tasks(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    duration: Duration = GRID_DURATION,
) -> int:
    """Tasks not settled by their grid deadline pass up by themselves; how many did."""
    async with uow:
        now = clock.now()
        overdue = await uow.grid_tasks.overdue(now, limit=OVERDUE_BATCH)
        for task_id in overdue:
            task = await uow.grid_tasks.get(task_id)
            assert task is not None
            reason = f"not settled within the grid deadline ({duration}); passed up by itself"
            task = task.passed_up(by=TIMER, reason=reason, at=now)
            await pass_up(
                uow, task, await routed_case(uow, task.case_id), index=index, matrix=matrix, now=now,
                actor=TIMER, note=f"passed up (上报): {reason}", timed_out=True,
            )  # fmt: skip
    if overdue:
        metrics.GRID_TASKS.labels("timed_out").inc(len(overdue))
    return len(overdue)


async def pass_up_reopened_case(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    envelope: Envelope[CaseReopened],
) -> bool:
    """A matter settled in the grid that the resident was unsatisfied with (不满意重办)
    leaves the grid: routed to the township department (evaluated -> routed), its SLA
    clock restarted at the reopening. Other reopenings are dispatch's: False."""
    reopened = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        task = await uow.grid_tasks.of_case(reopened.case_id)
        if task is None or task.status is not GridTaskStatus.SETTLED:
            return False
        now = clock.now()
        reason = f"reopened after an unsatisfied evaluation: {reopened.reason}"
        task = task.reopened(reason=reason, at=now)
        await pass_up(
            uow, task, (await routed_case(uow, task.case_id)).reopened(), index=index, matrix=matrix,
            now=now, actor=CONSUMER, note=f"passed up (上报): {reason}",
            restarted_at=reopened.reopened_at, rehandling=reopened.rehandling,
        )  # fmt: skip
    metrics.GRID_TASKS.labels("reopened").inc()
    return True


async def pass_up(
    uow: RoutingUnitOfWork,
    task: GridTask,
    case: RoutedCase,
    *,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    now: datetime,
    actor: str,
    note: str,
    timed_out: bool = False,
    restarted_at: datetime | None = None,
    rehandling: int = 0,
) -> None:
    """Route the matter as its next attempt (township tier: it has left the grid), record
    the decision, close the task and announce all of it."""
    facts = case.received.case
    hint = case.received.grid_worker.micro_grid_hint if case.received.grid_worker else None
    placement = place_case(facts, index=index, grid_worker_hint=hint)
    decision = decide_route(facts, placement=placement, matrix=matrix, attempt=case.attempts + 1,
                            mediation=False)  # fmt: skip
    if not decision.triage:
        decision = replace(
            decision,
            rule_id=f"{Rule.PASSED_UP}/{facts.category}",
            reason=f"{note}; {decision.reason}",
        )
    await uow.cases.save_many([case.routed(to_mediation=decision.to_mediation)])
    await uow.cases.add_decisions(
        [(case.case_id, RecordedDecision(decision, grid_set=index.version, trigger="passed-up",
                                         decided_at=now))]
    )  # fmt: skip
    await uow.grid_tasks.save(task)
    routed, changed = route_events(case, decision, actor=actor, at=now)
    routed = routed.model_copy(
        # The department's clock starts when the matter reaches it, not at the report: the
        # grid's own time is not the department's (dispatch and oversight both read this).
        update={"clock_restarted_at": restarted_at or now, "rehandling": rehandling}
    )
    await uow.emit(routed, topic=CASE_ROUTED)
    await uow.emit(changed.model_copy(update={"note": note}), topic=CASE_LIFECYCLE)
    await uow.emit(
        GridTaskPassedUp(
            case_id=task.case_id,
            task_id=task.task_id,
            worker_id=task.worker_id,
            micro_grid_code=task.micro_grid_code,
            reason=task.reason or note,
            to_department=decision.lead_department,
            timed_out=timed_out,
            passed_up_at=now,
        ),
        topic=GRID_TASKS,
    )


async def routed_case(uow: RoutingUnitOfWork, case_id: str) -> RoutedCase:
    case = await uow.cases.get(case_id)
    if case is None:
        raise CaseNotRouted(case_id)
    return case
