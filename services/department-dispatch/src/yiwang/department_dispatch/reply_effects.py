"""What an accepted department reply changes, and how a rejected one is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import CaseReturned, DepartmentReplied, DepartmentRole, ReplyKind
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RETURNED, DISPATCH_WHISTLES
from yiwang.department_dispatch.adapters.repository import DispatchUnitOfWork, RejectionRecord
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import DispatchCase, WorkOrder, new_id
from yiwang.department_dispatch.domain.whistles import attendance_recorded, record_report
from yiwang.department_dispatch.telemetry import (
    REPLY_REJECTIONS,
    SECURITY_EVENTS,
    WHISTLE_ATTENDANCE,
)
from yiwang.department_dispatch.work_orders import cancel_work_order, issue_work_order

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplyOutcome:
    applied: bool
    reason: str | None = None
    detail: str | None = None
    case_state: CaseState | None = None


async def apply_reply(
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    *,
    department: Department,
    channel: str,
    now: datetime,
) -> CaseState:
    """Apply a reply from `department` (verified), or raise ReplyRejected saying why not."""
    repo = uow.dispatch
    if await repo.reply_applied(department, reply.reply_id):
        raise replies.DuplicateReply(f"reply {reply.reply_id} was already applied")
    case = await repo.get_case(reply.case_id, lock=True)
    if case is None:
        raise replies.UnknownCase(f"case {reply.case_id} has no work orders")
    order = await repo.get_work_order(reply.work_order_id)
    if order is None or order.case_id != reply.case_id:
        raise replies.UnknownWorkOrder(
            f"work order {reply.work_order_id} does not exist for case {reply.case_id}"
        )
    effect = replies.check_reply(reply, order, department=department, case_state=case.state)
    order.status = effect.order_status
    await repo.save_work_order(order)
    await repo.add_reply(reply, department=department, channel=channel, at=now)
    if effect.case_state is not None:
        await _move_case(uow, case, reply, order, target=effect.case_state, now=now)
    if reply.kind is ReplyKind.REQUEST_ASSISTANCE:
        await _request_assistance(uow, case, reply, order, now=now)
    if reply.kind is ReplyKind.ACKNOWLEDGE and order.whistle_id is not None:
        await _record_whistle_report(uow, order, now=now)
    return case.state


async def _move_case(
    uow: DispatchUnitOfWork,
    case: DispatchCase,
    reply: DepartmentReplied,
    order: WorkOrder,
    *,
    target: CaseState,
    now: datetime,
) -> None:
    from_state, case.state = case.state, target
    if target is CaseState.RETURNED:
        case.return_count += 1
        reason_code = reply.reason_code or "other"
        await uow.emit(
            CaseReturned(
                case_id=case.case_id,
                department=order.department,
                reason_code=reason_code,
                reason=reply.note or replies.RETURN_REASONS.get(reason_code, reason_code),
                return_count=case.return_count,
            ),
            topic=CASE_RETURNED,
        )
        # The next routing decision issues fresh orders; the assistants stop here too.
        for other in await uow.dispatch.work_orders_of(case.case_id):
            if other.is_open and other.whistle_id is None:
                await cancel_work_order(uow, other, reason=f"returned by {order.department}")
    await uow.dispatch.save_case(case)
    await uow.emit(
        state_changed(
            case,
            from_state=from_state,
            to_state=target,
            at=now,
            actor=order.department.value,
            note=reply.result or reply.note or reply.reason_code,
            department=order.department,
        ),
        topic=CASE_LIFECYCLE,
    )


async def _request_assistance(
    uow: DispatchUnitOfWork,
    case: DispatchCase,
    reply: DepartmentReplied,
    order: WorkOrder,
    *,
    now: datetime,
) -> None:
    for department in reply.assisting_departments:
        if department == order.department:
            continue
        assisting = WorkOrder(
            work_order_id=new_id("wo"),
            case_id=case.case_id,
            department=department,
            role=DepartmentRole.ASSISTING,
            command_level=order.command_level,
            round=order.round,
            deadline=order.deadline,
            issued_at=now,
        )
        await issue_work_order(uow, case.routed, assisting)


async def _record_whistle_report(
    uow: DispatchUnitOfWork, order: WorkOrder, *, now: datetime
) -> None:
    assert order.whistle_id is not None
    attendance = await uow.dispatch.get_attendance(order.whistle_id, order.department)
    if attendance is None:
        return
    if record_report(attendance, at=now):
        await uow.dispatch.save_attendance(attendance)
        await uow.emit(attendance_recorded(attendance), topic=DISPATCH_WHISTLES)
        WHISTLE_ATTENDANCE.labels(str(attendance.outcome)).inc()


async def record_rejection(
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    rejected: replies.ReplyRejected,
    *,
    department: Department | None,
    claimed: str | None,
    channel: str,
    now: datetime,
) -> None:
    await uow.dispatch.add_rejection(
        RejectionRecord(
            at=now,
            channel=channel,
            reason=rejected.reason,
            detail=rejected.detail,
            security=rejected.security,
            department=department,
            claimed=claimed,
            case_id=reply.case_id,
            work_order_id=reply.work_order_id,
            reply_id=reply.reply_id,
            kind=reply.kind.value,
        )
    )
    REPLY_REJECTIONS.labels(channel, rejected.reason).inc()
    if rejected.security:
        SECURITY_EVENTS.labels(channel, rejected.reason).inc()
        log.warning(
            "security: reply rejected",
            reason=rejected.reason,
            detail=rejected.detail,
            department=department,
            claimed=claimed,
            channel=channel,
            case_id=reply.case_id,
        )
    else:
        log.info("reply rejected", reason=rejected.reason, detail=rejected.detail, channel=channel)
