"""Work orders: dispatching a routed case, a department's own listing, and issuing or
withdrawing one order (the order row and its event in one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted, WorkOrderCancelled
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, check_transition
from yiwang.common.telemetry import handling
from yiwang.common.topics import CASE_LIFECYCLE, department_topic
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    DispatchPlan,
    WorkOrder,
    WorkOrderStatus,
    case_deadlines,
    clock_start,
    initial_command_level,
    lead_of,
    plan_dispatch,
    work_order_issued,
)
from yiwang.department_dispatch.domain.queries import WorkOrderPage, WorkOrderQuery

log = get_logger(__name__)
# The inbox name of every dispatch subscriber.
CONSUMER = "department-dispatch"


def new_id(prefix: str) -> str:
    """A new order ("wo-…") or whistle ("wh-…") id: the domain's NewId."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def dispatch_routed_cases(
    *, uow: DispatchUnitOfWork, envelopes: Sequence[Envelope[CaseRouted]], clock: Clock
) -> None:
    """A poll's routing decisions in one transaction and a few statements, each decision
    as `dispatch_routed_case` says. Disputes routed to mediation are mediation's: they
    cost no transaction here."""
    decisions = [e for e in envelopes if not e.payload.to_mediation]
    if not decisions:
        return
    async with uow:
        fresh = await uow.first_deliveries(consumer=CONSUMER, event_ids=[e.id for e in decisions])
        taken = [e for e in {e.id: e for e in decisions}.values() if e.id in fresh]
        case_ids = sorted({e.payload.case_id for e in taken})
        cases = await uow.dispatch.get_cases(case_ids, lock=True)  # locked in id order
        existing = await uow.dispatch.work_orders_of_cases(case_ids)
        rounds: list[tuple[DispatchCase, DispatchPlan, Envelope[CaseRouted]]] = []
        for envelope in taken:  # each case's decisions in the order they came
            planned_round = _plan(envelope, cases.get(envelope.payload.case_id), existing, clock)
            if planned_round is not None:
                cases[planned_round[0].case_id] = planned_round[0]
                rounds.append((*planned_round, envelope))
        planned = [o for _, plan, _ in rounds for o in plan.orders]
        issued = await uow.dispatch.save_cases_issuing(
            list({c.case_id: c for c, _, _ in rounds}.values()), planned
        )
        # An order planned in this poll that the case had already is nobody's to withdraw.
        unissued = {o.work_order_id for o in planned} - issued
        await uow.dispatch.save_work_orders([o for _, plan, _ in rounds for o in plan.cancel])
        for case, plan, envelope in rounds:
            with handling(envelope):  # its events carry the decision's trace
                await _announce(uow, case, plan, issued=issued, unissued=unissued, at=clock.now())


async def dispatch_routed_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock
) -> None:
    """Turn a routing decision into one work order per department (lead and assisting).

    The SLA clock started when intake received the case (a re-route keeps it, and keeps
    the escalations and re-handling so far); a new decision supersedes any ruling."""
    await dispatch_routed_cases(uow=uow, envelopes=[envelope], clock=clock)


def _plan(
    envelope: Envelope[CaseRouted],
    case: DispatchCase | None,
    existing: dict[str, list[WorkOrder]],
    clock: Clock,
) -> tuple[DispatchCase, DispatchPlan] | None:
    """The case after this decision and its orders to issue and withdraw; None if it was
    dispatched before. `existing` takes the new orders, for a later decision of the poll."""
    routed = envelope.payload
    if case is not None and routed.attempt <= case.attempt:
        log.info("routing decision already dispatched", case_id=routed.case_id)
        return None
    started_at = case.clock_started_at if case else clock_start(routed, routed_at=envelope.time)
    # A grid-settled matter passed up after an unsatisfied evaluation is a re-handling.
    rehandling = max(case.rehandling if case else 0, routed.rehandling)
    orders = existing.setdefault(routed.case_id, [])
    plan = plan_dispatch(
        routed,
        existing=orders,
        deadlines=case_deadlines(routed, started_at=started_at),
        escalations=case.escalations if case else 0,
        rehandling=rehandling,
        now=clock.now(),
        new_id=new_id,
    )
    check_transition(case_id=routed.case_id, current=CaseState.ROUTED, target=CaseState.DISPATCHED)
    for old in plan.cancel:
        old.status = WorkOrderStatus.CANCELLED
    orders.extend(plan.orders)
    dispatched = DispatchCase(
        case_id=routed.case_id,
        state=CaseState.DISPATCHED,
        attempt=routed.attempt,
        command_level=initial_command_level(routed),
        lead_department=lead_of(routed),
        routed=routed,
        clock_started_at=started_at,
        return_count=case.return_count if case else 0,
        escalations=case.escalations if case else 0,
        rehandling=rehandling,
    )
    return dispatched, plan


async def _announce(
    uow: DispatchUnitOfWork,
    dispatched: DispatchCase,
    plan: DispatchPlan,
    *,
    issued: set[str],
    unissued: set[str],
    at: datetime,
) -> None:
    """Withdrawn orders, then the orders issued (not those the case had already), then
    the case's dispatch, to their topics in that order."""
    routed = dispatched.routed
    for old in plan.cancel:
        if old.work_order_id not in unissued:
            await uow.emit(
                cancellation(old, reason=f"re-routed (attempt {routed.attempt})"),
                topic=department_topic(old.department),
            )
    for order in plan.orders:
        if order.work_order_id in issued:
            await uow.emit(
                work_order_issued(routed, order), topic=department_topic(order.department)
            )
    await uow.emit(
        state_changed(
            dispatched,
            from_state=CaseState.ROUTED,
            to_state=CaseState.DISPATCHED,
            at=at,
            note=f"work orders to {', '.join(o.department for o in plan.orders)}",
        ),
        topic=CASE_LIFECYCLE,
    )


async def list_work_orders(
    *, uow: DispatchUnitOfWork, department: Department, query: WorkOrderQuery
) -> WorkOrderPage:
    """A department's own work orders, newest first."""
    async with uow:
        return await uow.dispatch.list_work_orders(department, query)


async def issue_work_order(
    *, uow: DispatchUnitOfWork, routed: CaseRouted, order: WorkOrder
) -> bool:
    """Issue the order unless the case already has one for this department in this round.

    Inside the caller's `async with uow:`."""
    if not await uow.dispatch.add_work_order(order):
        return False
    await uow.emit(work_order_issued(routed, order), topic=department_topic(order.department))
    return True


async def cancel_work_order(*, uow: DispatchUnitOfWork, order: WorkOrder, reason: str) -> None:
    """Withdraw an order and tell its department. Inside the caller's `async with uow:`."""
    order.status = WorkOrderStatus.CANCELLED
    await uow.dispatch.save_work_order(order)
    await uow.emit(cancellation(order, reason=reason), topic=department_topic(order.department))


def cancellation(order: WorkOrder, *, reason: str) -> WorkOrderCancelled:
    return WorkOrderCancelled(
        case_id=order.case_id,
        work_order_id=order.work_order_id,
        department=order.department,
        reason=reason,
    )
