"""Departments' work orders and replies, and whistles (吹哨报到)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints
from yiwang.common.case import (
    Code,
    Location,
    Priority,
    ReporterRef,
    Text,
)
from yiwang.common.departments import Department
from yiwang.common.events.base import CaseEvent
from yiwang.common.events.routing import MicroGridRef


class DepartmentRole(StrEnum):
    LEAD = "lead"
    ASSISTING = "assisting"


class CommandLevel(StrEnum):
    """The four-level command (四级联动), lowest first."""

    COMMUNITY = "community"
    TOWNSHIP = "township"
    COUNTY = "county"
    CITY = "city"


class WorkOrderIssued(CaseEvent):
    """On dept.<code>.cases.v1: what a department consumes."""

    event_type: ClassVar[str] = "yiwang.dept.work-order.v1"

    work_order_id: str
    case_number: str
    department: Department
    role: DepartmentRole
    command_level: CommandLevel = CommandLevel.TOWNSHIP
    category: str
    title: str
    description: str
    priority: Priority
    location: Location
    micro_grid: MicroGridRef | None
    department_unit: str | None
    deadline: AwareDatetime  # resolve (办结) by: the SLA policy's, the one oversight measures
    reporter: ReporterRef | None = None
    whistle_id: str | None = None  # set when the order is a whistle summons (吹哨报到)
    response_due: AwareDatetime | None = None  # sign for it (签收) by
    sla_policy: str | None = None  # the policy both deadlines come from, e.g. hotline-normal
    ruling_id: str | None = None  # set when the hub's final ruling (终审) names this department
    rehandling: int = Field(default=0, ge=0)  # 1 for the re-handling after "unsatisfied"


class WorkOrderCancelled(CaseEvent):
    """On dept.<code>.cases.v1: a work order was withdrawn (re-routed, escalated, returned)."""

    event_type: ClassVar[str] = "yiwang.dept.work-order-cancelled.v1"

    work_order_id: str
    department: Department
    reason: str


class ReplyKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"  # 签收
    PROGRESS = "progress"
    RETURN = "return"  # 退单
    RESOLVE = "resolve"  # 办结
    REQUEST_ASSISTANCE = "request_assistance"


class DepartmentReplied(CaseEvent):
    """On dept.replies.v1. The department's identity comes from its credential, not a field."""

    event_type: ClassVar[str] = "yiwang.dept.reply.v1"

    work_order_id: str
    reply_id: Code
    kind: ReplyKind
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    reason_code: Code | None = None
    result: Annotated[str, StringConstraints(max_length=2000)] | None = None
    evidence_urls: tuple[Annotated[str, StringConstraints(max_length=1000)], ...] = ()
    assisting_departments: tuple[Department, ...] = ()


class WhistleBlown(CaseEvent):
    event_type: ClassVar[str] = "yiwang.dispatch.whistle-blown.v1"

    whistle_id: str
    township_code: str
    departments: tuple[Department, ...]
    report_by: AwareDatetime
    reason: Text


class WhistleAttendanceRecorded(CaseEvent):
    event_type: ClassVar[str] = "yiwang.dispatch.whistle-attendance.v1"

    whistle_id: str
    township_code: str
    department: Department
    reported_at: AwareDatetime | None
    on_time: bool


class WorkOrderReminder(CaseEvent):
    """On dept.<code>.cases.v1: oversight's warning (催办), yellow or red card, or a stagnant
    case, for one of the department's open work orders."""

    event_type: ClassVar[str] = "yiwang.dept.work-order-reminder.v1"

    work_order_id: str
    department: Department
    alert_id: str
    kind: str  # warning, yellow_card, red_card, stagnant
    command_level: CommandLevel
    deadline: AwareDatetime | None = None
    reason: str


class RulingMade(CaseEvent):
    """On case.lifecycle.v1: the county hub's final ruling (终审) on disputed responsibility.
    The department it names handles the case and may no longer return it."""

    event_type: ClassVar[str] = "yiwang.case.ruling-made.v1"

    ruling_id: str
    department: Department
    reason: Text
    ruled_by: str  # the hub operator who ruled
    ruled_at: AwareDatetime
    returned_by: tuple[Department, ...] = ()
