"""Whistle-and-report (乡街吹哨、部门报到): who was summoned, and whether they came in time."""

from __future__ import annotations

from datetime import datetime, timedelta

from yiwang.common.departments import Department
from yiwang.common.events import CommandLevel, DepartmentRole, WhistleAttendanceRecorded
from yiwang.common.states import OPEN_STATES
from yiwang.department_dispatch.domain.model import (
    Attendance,
    DispatchCase,
    NewId,
    Whistle,
    WhistleAttendance,
    WorkOrder,
)

DEFAULT_REPORT_WITHIN = timedelta(minutes=30)


class WhistleRefused(Exception):
    """A whistle not blown. `code` is the stable reason; `status` and `field` say how
    HTTP answers it."""

    code: str = "whistle_refused"
    status: int = 409
    field: str | None = None

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class WhistleCaseUnknown(WhistleRefused):
    code = "unknown_case"
    status = 404
    field = "case_id"


class WhistleCaseNotOpen(WhistleRefused):
    code = "case_not_open"
    field = "case_id"


class WhistleWrongTownship(WhistleRefused):
    code = "not_the_case_township"
    status = 403
    field = "township_code"


def check_whistle_allowed(case: DispatchCase | None, *, case_id: str, township_code: str) -> None:
    if case is None:
        raise WhistleCaseUnknown(f"case {case_id} is not known to dispatch")
    if case.state not in OPEN_STATES:
        raise WhistleCaseNotOpen(f"case {case_id} is {case.state}; only open cases can be whistled")
    if case.township_code is not None and case.township_code != township_code:
        raise WhistleWrongTownship(
            f"case {case_id} lies in township {case.township_code}, not {township_code}"
        )


def new_whistle(
    *,
    case_id: str,
    case_number: str,
    township_code: str,
    departments: tuple[Department, ...],
    report_within: timedelta,
    reason: str,
    blown_by: str,
    now: datetime,
    new_id: NewId,
) -> tuple[Whistle, list[WorkOrder]]:
    whistle = Whistle(
        whistle_id=new_id("wh"),
        case_id=case_id,
        township_code=township_code,
        departments=tuple(dict.fromkeys(departments)),
        report_by=now + report_within,
        reason=reason,
        blown_at=now,
        blown_by=blown_by,
    )
    orders = [
        WorkOrder(
            work_order_id=new_id("wo"),
            case_id=case_id,
            case_number=case_number,
            department=department,
            role=DepartmentRole.ASSISTING,
            command_level=CommandLevel.TOWNSHIP,
            round=f"w:{whistle.whistle_id}",
            deadline=whistle.report_by,
            issued_at=now,
            whistle_id=whistle.whistle_id,
        )
        for department in whistle.departments
    ]
    return whistle, orders


def record_report(attendance: WhistleAttendance, *, at: datetime) -> bool:
    """A department reported (acknowledged); False if its report was already recorded."""
    if attendance.reported_at is not None:
        return False
    attendance.reported_at = at
    attendance.outcome = Attendance.ON_TIME if at <= attendance.report_by else Attendance.LATE
    return True


def record_missed(attendance: WhistleAttendance) -> None:
    attendance.outcome = Attendance.MISSED


def attendance_recorded(attendance: WhistleAttendance) -> WhistleAttendanceRecorded:
    return WhistleAttendanceRecorded(
        case_id=attendance.case_id,
        whistle_id=attendance.whistle_id,
        township_code=attendance.township_code,
        department=attendance.department,
        reported_at=attendance.reported_at,
        on_time=attendance.outcome is Attendance.ON_TIME,
    )
