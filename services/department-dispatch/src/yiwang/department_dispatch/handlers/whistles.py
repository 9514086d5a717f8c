"""Whistle-and-report (乡街吹哨、部门报到): a township summons departments, and each
department's attendance (on time, late or missed) is recorded exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import WhistleBlown
from yiwang.common.topics import DISPATCH_WHISTLES
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.model import Whistle, WorkOrder
from yiwang.department_dispatch.domain.whistles import (
    attendance_recorded,
    check_whistle_allowed,
    new_whistle,
    record_missed,
    record_report,
)
from yiwang.department_dispatch.handlers.work_orders import issue_work_order, new_id
from yiwang.department_dispatch.metrics import WHISTLE_ATTENDANCE


async def blow_whistle(
    *,
    uow: DispatchUnitOfWork,
    case_id: str,
    township_code: str,
    departments: tuple[Department, ...],
    report_within: timedelta,
    reason: str,
    blown_by: str,
    clock: Clock,
) -> Whistle:
    """A township summons departments to a case; each must report by the deadline.
    `blown_by`: who blew it (the audit name of the township official or system)."""
    async with uow:
        case = await uow.dispatch.get_case(case_id, lock=True)
        check_whistle_allowed(case, case_id=case_id, township_code=township_code)
        assert case is not None
        whistle, orders = new_whistle(
            case_id=case_id,
            case_number=case.case_number,
            township_code=township_code,
            departments=departments,
            report_within=report_within,
            reason=reason,
            blown_by=blown_by,
            now=clock.now(),
            new_id=new_id,
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
            await issue_work_order(uow=uow, routed=case.routed, order=order)
    return whistle


async def record_missed_attendance(
    *, uow: DispatchUnitOfWork, clock: Clock, limit: int = 100
) -> int:
    """Mark summoned departments that did not report by the deadline; each exactly once.

    Every replica may run it: rows are locked with SKIP LOCKED and marked in the same
    transaction as their event. Returns how many it marked (more may be waiting)."""
    async with uow:
        overdue = await uow.dispatch.lock_overdue_attendances(now=clock.now(), limit=limit)
        for attendance in overdue:
            record_missed(attendance)
            await uow.dispatch.save_attendance(attendance)
            await uow.emit(attendance_recorded(attendance), topic=DISPATCH_WHISTLES)
            WHISTLE_ATTENDANCE.labels("missed").inc()
    return len(overdue)


async def record_whistle_report(
    *, uow: DispatchUnitOfWork, order: WorkOrder, now: datetime
) -> None:
    """A summoned department acknowledged its order: it reported, on time or late.

    Inside the caller's `async with uow:` (the reply that acknowledged)."""
    assert order.whistle_id is not None
    attendance = await uow.dispatch.get_attendance(order.whistle_id, order.department)
    if attendance is None:
        return
    if record_report(attendance, at=now):
        await uow.dispatch.save_attendance(attendance)
        await uow.emit(attendance_recorded(attendance), topic=DISPATCH_WHISTLES)
        WHISTLE_ATTENDANCE.labels(str(attendance.outcome)).inc()
