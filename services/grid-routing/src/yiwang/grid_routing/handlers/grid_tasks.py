"""Grid task use cases (小事不出网格): hand grid-tier matters to their micro-grid's worker,
the worker's own list, acknowledgement, settlement on the spot and passing up (上报; the
other ways out of the grid are in handlers/passing_up.py).

Every step of a case emits its CaseStateChanged with the micro-grid and township filled
in: oversight counts the share settled in the grid from exactly these transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.common.events import (
    CaseStateChanged,
    GridTaskAssigned,
    GridTaskSettled,
    HandlingTier,
    WorkerRole,
)
from yiwang.common.logs import get_logger
from yiwang.common.sla import GRID_DURATION, Duration, grid_deadline
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, GRID_TASKS
from yiwang.grid_routing import metrics
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.grid_tasks import (
    GridTask,
    GridTaskUnknown,
    NotServingMicroGrid,
    check_serves,
    roles_on_record,
    task_id_for,
)
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.roster import GridWorker
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import RoutingDecision
from yiwang.grid_routing.handlers.passing_up import pass_up, routed_case

CONSUMER = "grid-routing"
OVERDUE_BATCH = 50
log = get_logger(__name__)


def stays_in_grid(decision: RoutingDecision) -> bool:
    """A grid-tier matter on its first routing, placed in a micro-grid, for a department
    (a dispute goes to the grid rung of mediation instead)."""
    return (
        decision.tier is HandlingTier.GRID
        and decision.attempt == 1
        and decision.micro_grid is not None
        and not decision.triage
        and not decision.to_mediation
    )


async def assign_grid_tasks(
    uow: RoutingUnitOfWork,
    handed: Sequence[tuple[RoutedCase, RoutingDecision, GridWorker]],
    *,
    grid_set: int,
    now: datetime,
    duration: Duration = GRID_DURATION,
) -> None:
    """Inside the caller's unit of work: each matter becomes its worker's task (received
    -> in_grid), recorded as the case's routing decision, announced on grid.tasks.v1."""
    if not handed:
        return
    cases, decisions, tasks = [], [], []
    for case, decision, worker in handed:
        assert decision.micro_grid is not None
        facts = case.received.case
        informant = case.received.grid_worker.worker_id if case.received.grid_worker else None
        task = GridTask(
            task_id=task_id_for(case.case_id),
            case_id=case.case_id,
            worker_id=worker.worker_id,
            micro_grid_code=decision.micro_grid.code,
            township_code=decision.micro_grid.township_code,
            category=facts.category,
            title=facts.title,
            lead_department=decision.lead_department,
            assigned_at=now,
            due_at=grid_deadline(now, duration=duration),
            informant=informant,
        )
        reason = (
            f"{decision.reason}; a small matter stays in the grid (小事不出网格): a task for "
            f"grid worker {worker.worker_id} (代办员), to settle by {task.due_at.isoformat()}"
            + await _informant(uow, informant)
        )
        decisions.append(
            (case.case_id, RecordedDecision(replace(decision, reason=reason), grid_set=grid_set,
                                            trigger="received", decided_at=now))
        )  # fmt: skip
        cases.append(case.in_grid())
        tasks.append((task, decision, case, reason))
    await uow.cases.save_many(cases)
    await uow.cases.add_decisions(decisions)
    await uow.grid_tasks.add_many([t for t, *_ in tasks])
    for task, decision, case, reason in tasks:
        assert decision.micro_grid is not None
        await uow.emit(
            GridTaskAssigned(
                case_id=task.case_id,
                task_id=task.task_id,
                worker_id=task.worker_id,
                micro_grid=decision.micro_grid,
                category=task.category,
                title=task.title,
                lead_department=task.lead_department,
                assigned_at=task.assigned_at,
                due_at=task.due_at,
                informant=task.informant,
            ),
            topic=GRID_TASKS,
        )
        await uow.emit(
            _changed(case, task, to=CaseState.IN_GRID, actor=CONSUMER, note=reason, at=now),
            topic=CASE_LIFECYCLE,
        )


async def _informant(uow: RoutingUnitOfWork, worker_id: str | None) -> str:
    """Who reported it, as the roster knows them (信息员)."""
    if worker_id is None:
        return ""
    reporter = await uow.grid_tasks.worker(worker_id)
    if reporter is None or not reporter.has(WorkerRole.INFORMANT):
        return f"; reported by grid worker {worker_id}, not an informant on the active roster"
    return f"; reported by grid worker {worker_id} (信息员)"


async def list_grid_tasks(
    *, uow: RoutingUnitOfWork, actor: Actor, open_only: bool
) -> list[GridTask]:
    """The calling grid worker's own tasks, newest first."""
    if actor.grid_worker is None:
        return []
    async with uow:
        return await uow.grid_tasks.of_worker(actor.grid_worker, open_only=open_only)


async def acknowledge_grid_task(
    *, uow: RoutingUnitOfWork, clock: Clock, actor: Actor, task_id: str
) -> GridTask:
    refused: NotServingMicroGrid | None = None
    async with uow:
        task, worker = await _task_and_worker(uow, task_id, actor)
        try:
            check_serves(task, worker, actor.grid_worker)
        except NotServingMicroGrid as exc:
            refused = await _audit_refusal(uow, exc, task, actor, "acknowledge", clock.now())
        else:
            task = task.acknowledged(at=clock.now())
            await uow.grid_tasks.save(task)
    if refused:
        raise refused
    return task


async def settle_grid_task(
    *,
    uow: RoutingUnitOfWork,
    clock: Clock,
    actor: Actor,
    task_id: str,
    note: str,
    photo_urls: tuple[str, ...],
) -> GridTask:
    """Settled on the spot: the task closes and the case resolves (in_grid -> resolved),
    the worker its actor; a second settlement or pass-up is GridTaskClosed (409)."""
    refused: NotServingMicroGrid | None = None
    async with uow:
        task, worker = await _task_and_worker(uow, task_id, actor)
        now = clock.now()
        try:
            worker = check_serves(task, worker, actor.grid_worker)
        except NotServingMicroGrid as exc:
            refused = await _audit_refusal(uow, exc, task, actor, "settle", now)
        else:
            task = task.settled(by=worker.worker_id, note=note, photo_urls=photo_urls, at=now)
            case = await routed_case(uow, task.case_id)
            await uow.cases.save_many([case.settled_in_grid()])
            await uow.grid_tasks.save(task)
            await uow.emit(
                GridTaskSettled(
                    case_id=task.case_id,
                    task_id=task.task_id,
                    worker_id=worker.worker_id,
                    micro_grid_code=task.micro_grid_code,
                    note=note,
                    photo_urls=photo_urls,
                    settled_at=now,
                ),
                topic=GRID_TASKS,
            )
            roles = roles_on_record(task, worker.worker_id)
            await uow.emit(
                _changed(
                    case,
                    task,
                    to=CaseState.RESOLVED,
                    actor=f"grid-worker:{worker.worker_id}",
                    note=f"settled on the spot by grid worker {worker.worker_id} ({roles}): {note}",
                    at=now,
                ),
                topic=CASE_LIFECYCLE,
            )
    if refused:
        raise refused
    metrics.GRID_TASKS.labels("settled").inc()
    return task


async def pass_up_grid_task(
    *,
    uow: RoutingUnitOfWork,
    index: GridIndex,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    actor: Actor,
    task_id: str,
    reason: str,
) -> GridTask:
    """上报: the worker passes the matter up to the township's lead department for its
    category (in_grid -> routed); dispatch handles it as any routed case."""
    refused: NotServingMicroGrid | None = None
    async with uow:
        task, worker = await _task_and_worker(uow, task_id, actor)
        now = clock.now()
        try:
            worker = check_serves(task, worker, actor.grid_worker)
        except NotServingMicroGrid as exc:
            refused = await _audit_refusal(uow, exc, task, actor, "pass-up", now)
        else:
            roles = roles_on_record(task, worker.worker_id)
            task = task.passed_up(by=worker.worker_id, reason=reason, at=now)
            await pass_up(
                uow, task, await routed_case(uow, task.case_id), index=index, matrix=matrix, now=now,
                actor=f"grid-worker:{worker.worker_id}",
                note=f"passed up (上报) by grid worker {worker.worker_id} ({roles}): {reason}",
            )  # fmt: skip
    if refused:
        raise refused
    metrics.GRID_TASKS.labels("passed_up").inc()
    return task


async def _task_and_worker(
    uow: RoutingUnitOfWork, task_id: str, actor: Actor
) -> tuple[GridTask, GridWorker | None]:
    task = await uow.grid_tasks.get(task_id)
    if task is None:
        raise GridTaskUnknown(task_id)
    worker = await uow.grid_tasks.worker(actor.grid_worker) if actor.grid_worker else None
    return task, worker


async def _audit_refusal(
    uow: RoutingUnitOfWork,
    refusal: NotServingMicroGrid,
    task: GridTask,
    actor: Actor,
    action: str,
    now: datetime,
) -> NotServingMicroGrid:
    """The refused attempt is kept (committed), then answered 403."""
    await uow.grid_tasks.audit(
        at=now, actor=actor.audit_name, task=task, action=action, outcome="refused",
        detail=str(refusal),
    )  # fmt: skip
    log.warning("grid task refused", task_id=task.task_id, actor=actor.audit_name, action=action)
    return refusal


def _changed(
    case: RoutedCase, task: GridTask, *, to: CaseState, actor: str, note: str, at: datetime
) -> CaseStateChanged:
    """A step of the grid task on the case's timeline; `case` as it was before it."""
    facts = case.received.case
    return CaseStateChanged(
        case_id=case.case_id,
        case_number=facts.case_number,
        from_state=case.state,
        to_state=to,
        actor=actor,
        note=note,
        at=at,
        department=task.lead_department,
        township_code=task.township_code,
        micro_grid=task.micro_grid_code,
        category=facts.category,
        channel=facts.channel,
        priority=facts.priority,
    )
