"""Department replies: what an accepted one changes, and how a rejected one is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import CaseReturned, DepartmentReplied, DepartmentRole, ReplyKind
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RETURNED
from yiwang.department_dispatch.adapters.repository import RejectionRecord
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import DispatchCase, WorkOrder
from yiwang.department_dispatch.handlers.whistles import record_whistle_report
from yiwang.department_dispatch.handlers.work_orders import (
    cancel_work_order,
    issue_work_order,
    new_id,
)
from yiwang.department_dispatch.metrics import REPLY_REJECTIONS, SECURITY_EVENTS

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplyOutcome:
    applied: bool
    reason: str | None = None  # the rejection's code, or "redelivered"
    detail: str | None = None
    case_state: CaseState | None = None
    # Why it was refused, already audited: HTTP answers it (entrypoints/http.py REFUSALS).
    rejection: replies.ReplyRejected | None = None


async def take_department_reply(
    *,
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    sender: replies.Sender,
    channel: str,
    clock: Clock,
) -> ReplyOutcome:
    """Check a reply against the assignment and the state machine; apply it or audit why not.

    `sender` comes from a verified credential (an API key or a person's token), never from
    the reply itself. Signed Kafka replies come through handlers/signing.py."""
    async with uow:
        return await take_in(uow, reply, sender=sender, channel=channel, now=clock.now())


async def take_in(
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    *,
    sender: replies.Sender,
    channel: str,
    now: datetime,
) -> ReplyOutcome:
    """Apply a reply from a verified sender, or audit why not; inside the caller's unit."""
    try:
        if sender.department is None:
            raise replies.NoDepartment(f"{sender.audit_name} acts for no department")
        state = await apply_reply(
            uow=uow,
            reply=reply,
            sender=sender,
            department=sender.department,
            channel=channel,
            now=now,
        )
    except replies.ReplyRejected as rejected:
        await record_rejection(
            uow=uow,
            reply=reply,
            rejected=rejected,
            sender=sender,
            claimed=sender.department.value if sender.department else None,
            channel=channel,
            now=now,
        )
        return ReplyOutcome(
            applied=False, reason=rejected.code, detail=rejected.detail, rejection=rejected
        )
    return ReplyOutcome(applied=True, case_state=state)


async def apply_reply(
    *,
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    sender: replies.Sender,
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
    effect = replies.check_reply(
        reply, order, department=department, case_state=case.state, triage=case.routed.triage
    )
    order.status = effect.order_status
    await repo.save_work_order(order)
    await repo.add_reply(
        reply, department=department, channel=channel, at=now, actor=sender.audit_name
    )
    if effect.case_state is not None:
        await _move_case(
            uow, case, reply, order, target=effect.case_state, now=now, actor=sender.name
        )
    if reply.kind is ReplyKind.REQUEST_ASSISTANCE:
        await _request_assistance(uow, case, reply, order, now=now)
    if reply.kind is ReplyKind.ACKNOWLEDGE and order.whistle_id is not None:
        await record_whistle_report(uow=uow, order=order, now=now)
    return case.state


async def _move_case(
    uow: DispatchUnitOfWork,
    case: DispatchCase,
    reply: DepartmentReplied,
    order: WorkOrder,
    *,
    target: CaseState,
    now: datetime,
    actor: str,
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
                await cancel_work_order(
                    uow=uow, order=other, reason=f"returned by {order.department}"
                )
    await uow.dispatch.save_case(case)
    await uow.emit(
        state_changed(
            case,
            from_state=from_state,
            to_state=target,
            at=now,
            actor=actor,
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
            case_number=case.case_number,
            department=department,
            role=DepartmentRole.ASSISTING,
            command_level=order.command_level,
            round=order.round,
            deadline=order.deadline,
            issued_at=now,
            response_due=order.response_due,
            sla_policy=order.sla_policy,
            rehandling=order.rehandling,
        )
        await issue_work_order(uow=uow, routed=case.routed, order=assisting)


async def record_rejection(
    *,
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    rejected: replies.ReplyRejected,
    sender: replies.Sender | None,
    claimed: str | None,
    channel: str,
    now: datetime,
) -> None:
    """Audit a rejected reply (reply_rejection), count it, and log security events.
    `sender`: the verified one, None when no credential held; `claimed`: who it said it was."""
    department = sender.department if sender is not None else None
    await uow.dispatch.add_rejection(
        RejectionRecord(
            at=now,
            channel=channel,
            reason=rejected.code,
            detail=rejected.detail,
            security=rejected.security,
            department=department,
            claimed=claimed,
            case_id=reply.case_id,
            work_order_id=reply.work_order_id,
            reply_id=reply.reply_id,
            kind=reply.kind.value,
            actor=sender.audit_name if sender is not None else None,
        )
    )
    REPLY_REJECTIONS.labels(channel, rejected.code).inc()
    if rejected.security:
        SECURITY_EVENTS.labels(channel, rejected.code).inc()
        log.warning(
            "security: reply rejected",
            reason=rejected.code,
            detail=rejected.detail,
            department=department,
            claimed=claimed,
            actor=sender.audit_name if sender is not None else None,
            channel=channel,
            case_id=reply.case_id,
        )
    else:
        log.info("reply rejected", reason=rejected.code, detail=rejected.detail, channel=channel)
