"""Work orders: dispatching a routed case, a department's own listing, and issuing or
withdrawing one order (the order row and its event in one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted, WorkOrderCancelled
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, check_transition
from yiwang.common.topics import CASE_LIFECYCLE, department_topic
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
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
    """A poll's routing decisions in one transaction, each as `dispatch_routed_case` says.
    Disputes routed to mediation are mediation's: they cost no transaction here."""
    decisions = [e for e in envelopes if not e.payload.to_mediation]
    if not decisions:
        return
    async with uow:
        fresh = await uow.first_deliveries(consumer=CONSUMER, event_ids=[e.id for e in decisions])
        # By case, each case's decisions in their order: two polls lock cases alike.
        for envelope in sorted(decisions, key=lambda e: e.payload.case_id):
            if envelope.id in fresh:
                fresh.discard(envelope.id)  # the same event twice in a poll counts once
                await _dispatch(uow, envelope, clock=clock)


async def dispatch_routed_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock
) -> None:
    """Turn a routing decision into one work order per department (lead and assisting).

    The SLA clock started when intake received the case (a re-route keeps it, and keeps
    the escalations and re-handling so far); a new decision supersedes any ruling."""
    await dispatch_routed_cases(uow=uow, envelopes=[envelope], clock=clock)


async def _dispatch(
    uow: DispatchUnitOfWork, envelope: Envelope[CaseRouted], *, clock: Clock
) -> None:
    routed = envelope.payload
    case = await uow.dispatch.get_case(routed.case_id, lock=True)
    if case is not None and routed.attempt <= case.attempt:
        log.info("routing decision already dispatched", case_id=routed.case_id)
        return
    now = clock.now()
    started_at = case.clock_started_at if case else clock_start(routed, routed_at=envelope.time)
    existing = await uow.dispatch.work_orders_of(routed.case_id)
    # A grid-settled matter passed up after an unsatisfied evaluation is a re-handling.
    rehandling = max(case.rehandling if case else 0, routed.rehandling)
    plan = plan_dispatch(
        routed,
        existing=existing,
        deadlines=case_deadlines(routed, started_at=started_at),
        escalations=case.escalations if case else 0,
        rehandling=rehandling,
        now=now,
        new_id=new_id,
    )
    check_transition(case_id=routed.case_id, current=CaseState.ROUTED, target=CaseState.DISPATCHED)
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
    await uow.dispatch.save_case(dispatched)
    for old in plan.cancel:
        await cancel_work_order(uow=uow, order=old, reason=f"re-routed (attempt {routed.attempt})")
    for order in plan.orders:
        await issue_work_order(uow=uow, routed=routed, order=order)
    await uow.emit(
        state_changed(
            dispatched,
            from_state=CaseState.ROUTED,
            to_state=CaseState.DISPATCHED,
            at=now,
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
    await uow.emit(
        WorkOrderCancelled(
            case_id=order.case_id,
            work_order_id=order.work_order_id,
            department=order.department,
            reason=reason,
        ),
        topic=department_topic(order.department),
    )
