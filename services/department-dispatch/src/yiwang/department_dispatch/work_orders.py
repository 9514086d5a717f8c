"""Issuing and withdrawing work orders: the order row and its event in one transaction."""

from __future__ import annotations

from yiwang.common.events import CaseRouted, WorkOrderCancelled
from yiwang.common.topics import department_topic
from yiwang.department_dispatch.adapters.repository import DispatchUnitOfWork
from yiwang.department_dispatch.domain.model import WorkOrder, WorkOrderStatus, work_order_issued


async def issue_work_order(uow: DispatchUnitOfWork, routed: CaseRouted, order: WorkOrder) -> bool:
    """Issue the order unless the case already has one for this department in this round."""
    if not await uow.dispatch.add_work_order(order):
        return False
    await uow.emit(work_order_issued(routed, order), topic=department_topic(order.department))
    return True


async def cancel_work_order(uow: DispatchUnitOfWork, order: WorkOrder, *, reason: str) -> None:
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
