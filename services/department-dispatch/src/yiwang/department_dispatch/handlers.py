"""Department-dispatch use cases: one function each, all inside one unit of work."""

from __future__ import annotations

from datetime import timedelta

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseRouted,
    DepartmentReplied,
    DepartmentRole,
    OversightAlertRaised,
    WhistleBlown,
)
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, can_transition, check_transition
from yiwang.common.topics import CASE_LIFECYCLE, DISPATCH_WHISTLES
from yiwang.department_dispatch.adapters.repository import DispatchUnitOfWork
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.credentials import hash_api_key
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    Whistle,
    WorkOrder,
    deadline_for,
    initial_command_level,
    lead_of,
    new_id,
    next_level_up,
    plan_dispatch,
)
from yiwang.department_dispatch.domain.whistles import (
    attendance_recorded,
    check_whistle_allowed,
    new_whistle,
    record_missed,
)
from yiwang.department_dispatch.reply_effects import ReplyOutcome, apply_reply, record_rejection
from yiwang.department_dispatch.telemetry import WHISTLE_ATTENDANCE
from yiwang.department_dispatch.work_orders import cancel_work_order, issue_work_order

log = get_logger(__name__)
CONSUMER = "department-dispatch"
ESCALATING_ALERTS = frozenset({AlertKind.YELLOW_CARD, AlertKind.RED_CARD})


async def dispatch_routed_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock
) -> None:
    """Turn a routing decision into one work order per department (lead and assisting)."""
    routed = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return
        if routed.to_mediation:
            return  # mediation takes these
        case = await uow.dispatch.get_case(routed.case_id, lock=True)
        if case is not None and routed.attempt <= case.attempt:
            log.info("routing decision already dispatched", case_id=routed.case_id)
            return
        now = clock.now()
        existing = await uow.dispatch.work_orders_of(routed.case_id)
        plan = plan_dispatch(routed, existing=existing, now=now)
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
            await cancel_work_order(uow, old, reason=f"re-routed (attempt {routed.attempt})")
        for order in plan.orders:
            await issue_work_order(uow, routed, order)
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


async def take_department_reply(
    *,
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    department: Department | None,
    channel: str,
    clock: Clock,
    event_id: str | None = None,
    claimed: str | None = None,
) -> ReplyOutcome:
    """Check a reply against the assignment and the state machine; apply it or audit why not.

    `department` comes from a verified credential (None when there was none): never from
    the reply itself.
    """
    async with uow:
        if event_id is not None and not await uow.first_delivery(
            consumer=CONSUMER, event_id=event_id
        ):
            return ReplyOutcome(applied=False, reason="redelivered")
        now = clock.now()
        try:
            if department is None:
                raise replies.InvalidCredential(
                    f"no valid credential for '{claimed}'" if claimed else "no valid credential"
                )
            state = await apply_reply(uow, reply, department=department, channel=channel, now=now)
        except replies.ReplyRejected as rejected:
            await record_rejection(
                uow,
                reply,
                rejected,
                department=department,
                claimed=claimed,
                channel=channel,
                now=now,
            )
            return ReplyOutcome(applied=False, reason=rejected.reason, detail=rejected.detail)
    return ReplyOutcome(applied=True, case_state=state)


async def blow_whistle(
    *,
    uow: DispatchUnitOfWork,
    case_id: str,
    township_code: str,
    departments: tuple[Department, ...],
    report_within: timedelta,
    reason: str,
    clock: Clock,
) -> Whistle:
    """A township summons departments to a case; each must report by the deadline."""
    async with uow:
        case = await uow.dispatch.get_case(case_id, lock=True)
        check_whistle_allowed(case, case_id=case_id, township_code=township_code)
        assert case is not None
        whistle, orders = new_whistle(
            case_id=case_id,
            township_code=township_code,
            departments=departments,
            report_within=report_within,
            reason=reason,
            now=clock.now(),
        )
        await uow.dispatch.add_whistle(whistle)
        await uow.emit(
            WhistleBlown(
                case_id=case_id,
                whistle_id=whistle.whistle_id,
                township_code=township_code,
                departments=whistle.departments,
                report_by=whistle.report_by,
                reason=reason,
            ),
            topic=DISPATCH_WHISTLES,
        )
        for order in orders:
            await issue_work_order(uow, case.routed, order)
    return whistle


async def record_missed_attendance(
    *, uow: DispatchUnitOfWork, clock: Clock, limit: int = 100
) -> int:
    """Mark summoned departments that did not report by the deadline; each exactly once."""
    async with uow:
        overdue = await uow.dispatch.lock_overdue_attendances(now=clock.now(), limit=limit)
        for attendance in overdue:
            record_missed(attendance)
            await uow.dispatch.save_attendance(attendance)
            await uow.emit(attendance_recorded(attendance), topic=DISPATCH_WHISTLES)
            WHISTLE_ATTENDANCE.labels("missed").inc()
    return len(overdue)


async def escalate_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[OversightAlertRaised], clock: Clock
) -> None:
    """A yellow or red card moves the case up the four-level command with a new lead order."""
    alert = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return
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
            await cancel_work_order(uow, old, reason=f"{alert.kind}: escalated to {level} command")
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
        await issue_work_order(uow, case.routed, order)
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


async def identify_api_key(*, uow: DispatchUnitOfWork, api_key: str | None) -> str | None:
    """The principal (a department code or township:<code>) an API key belongs to."""
    if not api_key:
        return None
    async with uow:
        return await uow.dispatch.principal_for_key(hash_api_key(api_key))
