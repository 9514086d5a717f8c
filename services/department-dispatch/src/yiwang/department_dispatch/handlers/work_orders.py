"""Work orders: dispatching a routed case, escalating it, and issuing or withdrawing one
order (the order row and its event in one transaction)."""

from __future__ import annotations

import uuid

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseRouted,
    DepartmentRole,
    OversightAlertRaised,
    WorkOrderCancelled,
)
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, can_transition, check_transition
from yiwang.common.topics import CASE_LIFECYCLE, department_topic
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    WorkOrder,
    WorkOrderStatus,
    deadline_for,
    initial_command_level,
    lead_of,
    next_level_up,
    plan_dispatch,
    work_order_issued,
)

log = get_logger(__name__)
# The inbox name of every dispatch subscriber.
CONSUMER = "department-dispatch"
ESCALATING_ALERTS = frozenset({AlertKind.YELLOW_CARD, AlertKind.RED_CARD})


def new_id(prefix: str) -> str:
    """A new order ("wo-…") or whistle ("wh-…") id: the domain's NewId."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def dispatch_routed_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock
) -> None:
    """Turn a routing decision into one work order per department (lead and assisting)."""
    routed = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return  # a redelivery: applied the first time
        if routed.to_mediation:
            return  # mediation takes these
        case = await uow.dispatch.get_case(routed.case_id, lock=True)
        if case is not None and routed.attempt <= case.attempt:
            log.info("routing decision already dispatched", case_id=routed.case_id)
            return
        now = clock.now()
        existing = await uow.dispatch.work_orders_of(routed.case_id)
        plan = plan_dispatch(routed, existing=existing, now=now, new_id=new_id)
        check_transition(
            case_id=routed.case_id, current=CaseState.ROUTED, target=CaseState.DISPATCHED
        )
        dispatched = DispatchCase(
            case_id=routed.case_id,
            state=CaseState.DISPATCHED,
            attempt=routed.attempt,
            command_level=initial_command_level(routed),
            lead_department=lead_of(routed),
            routed=routed,
            return_count=case.return_count if case else 0,
        )
        await uow.dispatch.save_case(dispatched)
        for old in plan.cancel:
            await cancel_work_order(
                uow=uow, order=old, reason=f"re-routed (attempt {routed.attempt})"
            )
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


async def escalate_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[OversightAlertRaised], clock: Clock
) -> None:
    """A yellow or red card moves the case up the four-level command with a new lead order."""
    alert = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return  # a redelivery: applied the first time
        if alert.kind not in ESCALATING_ALERTS:
            return
        case = await uow.dispatch.get_case(alert.case_id, lock=True)
        if case is None:
            log.warning("alert for a case dispatch does not hold", case_id=alert.case_id)
            return
        level = next_level_up(case.command_level, at_least=alert.command_level)
        escalatable = case.state is CaseState.ESCALATED or can_transition(
            case.state, CaseState.ESCALATED
        )
        if level is None or not escalatable:
            log.info("alert not escalated", case_id=case.case_id, state=case.state)
            return
        now = clock.now()
        lead_orders = [
            o
            for o in await uow.dispatch.work_orders_of(case.case_id)
            if o.is_open and o.role is DepartmentRole.LEAD and o.whistle_id is None
        ]
        for old in lead_orders:
            await cancel_work_order(
                uow=uow, order=old, reason=f"{alert.kind}: escalated to {level} command"
            )
        order = WorkOrder(
            work_order_id=new_id("wo"),
            case_id=case.case_id,
            department=case.lead_department,
            role=DepartmentRole.LEAD,
            command_level=level,
            round=f"a{case.attempt}:{level}",
            deadline=deadline_for(case.routed.case.priority, issued_at=now),
            issued_at=now,
        )
        await issue_work_order(uow=uow, routed=case.routed, order=order)
        from_state, case.command_level = case.state, level
        if case.state is not CaseState.ESCALATED:
            case.state = CaseState.ESCALATED
            await uow.emit(
                state_changed(
                    case,
                    from_state=from_state,
                    to_state=CaseState.ESCALATED,
                    at=now,
                    note=f"{alert.kind}: re-dispatched to {level} command ({alert.reason})",
                ),
                topic=CASE_LIFECYCLE,
            )
        await uow.dispatch.save_case(case)


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
