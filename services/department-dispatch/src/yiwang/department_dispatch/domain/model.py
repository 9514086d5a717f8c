"""Dispatch's own view of a case, its work orders and whistles. Pure: no I/O; the time
and new ids are passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from yiwang.common.case import Priority
from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseRouted,
    CommandLevel,
    DepartmentRole,
    HandlingTier,
    WorkOrderIssued,
)
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain.personal_data import reporter_for

# A simple default per priority (Beijing 12345 feedback times); oversight owns the real
# SLA clocks and their working-day calendar.
DEADLINES: dict[Priority, timedelta] = {
    Priority.EMERGENCY: timedelta(hours=2),
    Priority.URGENT: timedelta(hours=24),
    Priority.NORMAL: timedelta(days=7),
    Priority.COMPLEX: timedelta(days=15),
}

LEVELS = (CommandLevel.COMMUNITY, CommandLevel.TOWNSHIP, CommandLevel.COUNTY, CommandLevel.CITY)


class WorkOrderStatus(StrEnum):
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RETURNED = "returned"
    CANCELLED = "cancelled"


OPEN_WORK_ORDER = frozenset(
    {WorkOrderStatus.ISSUED, WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.IN_PROGRESS}
)


@dataclass
class DispatchCase:
    case_id: str
    state: CaseState
    attempt: int
    command_level: CommandLevel
    lead_department: Department
    routed: CaseRouted  # the routing decision this dispatch round was built from
    return_count: int = 0

    @property
    def township_code(self) -> str | None:
        return self.routed.micro_grid.township_code if self.routed.micro_grid else None


@dataclass
class WorkOrder:
    work_order_id: str
    case_id: str
    department: Department
    role: DepartmentRole
    command_level: CommandLevel
    round: str  # one dispatch round: "a1", "a2:county", "w:<whistle id>"
    deadline: datetime
    issued_at: datetime
    status: WorkOrderStatus = WorkOrderStatus.ISSUED
    whistle_id: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_WORK_ORDER


@dataclass
class Whistle:
    whistle_id: str
    case_id: str
    township_code: str
    departments: tuple[Department, ...]
    report_by: datetime
    reason: str
    blown_at: datetime


class Attendance(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"


@dataclass
class WhistleAttendance:
    whistle_id: str
    department: Department
    report_by: datetime
    township_code: str
    case_id: str
    reported_at: datetime | None = None
    outcome: Attendance | None = None


# Makes a new unique id with a prefix ("wo" for an order, "wh" for a whistle); the
# handlers pass it in (handlers/work_orders.py new_id), so the rules stay deterministic.
NewId = Callable[[str], str]


def deadline_for(priority: Priority, *, issued_at: datetime) -> datetime:
    return issued_at + DEADLINES[priority]


def initial_command_level(routed: CaseRouted) -> CommandLevel:
    """Township handles grid and township tiers; county-tier and triage cases go to the county."""
    if routed.triage or routed.tier is HandlingTier.COUNTY:
        return CommandLevel.COUNTY
    return CommandLevel.TOWNSHIP


def lead_of(routed: CaseRouted) -> Department:
    # Triage and arbitration belong to the county hub, whatever routing named.
    return Department.COMPREHENSIVE_GOVERNANCE if routed.triage else routed.lead_department


def assignments(routed: CaseRouted) -> list[tuple[Department, DepartmentRole]]:
    lead = lead_of(routed)
    assisting = [d for d in dict.fromkeys(routed.assisting_departments) if d != lead]
    return [(lead, DepartmentRole.LEAD), *((d, DepartmentRole.ASSISTING) for d in assisting)]


def next_level_up(current: CommandLevel, *, at_least: CommandLevel) -> CommandLevel | None:
    """The level an escalation goes to: one up, or the alert's level if higher; None at the top."""
    if current is CommandLevel.CITY:
        return None
    one_up = LEVELS[LEVELS.index(current) + 1]
    return max(one_up, at_least, key=LEVELS.index)


def work_order_issued(routed: CaseRouted, order: WorkOrder) -> WorkOrderIssued:
    """The work order as its department sees it: only the personal data it needs."""
    case = routed.case
    unit = routed.department_units.get(order.department)
    return WorkOrderIssued(
        case_id=order.case_id,
        work_order_id=order.work_order_id,
        case_number=case.case_number,
        department=order.department,
        role=order.role,
        command_level=order.command_level,
        category=case.category,
        title=case.title,
        description=case.description,
        priority=case.priority,
        location=case.location,
        micro_grid=routed.micro_grid,
        # The unit is the department's own grid unit at township level; above it the
        # county or city bureau itself handles the order.
        department_unit=unit if order.command_level in LEVELS[:2] else None,
        deadline=order.deadline,
        reporter=reporter_for(order.department, order.role, case.reporters, order.whistle_id),
        whistle_id=order.whistle_id,
    )


@dataclass
class DispatchPlan:
    """What a CaseRouted turns into: new orders, and earlier ones to withdraw."""

    orders: list[WorkOrder] = field(default_factory=list)
    cancel: list[WorkOrder] = field(default_factory=list)


def plan_dispatch(
    routed: CaseRouted, *, existing: list[WorkOrder], now: datetime, new_id: NewId
) -> DispatchPlan:
    round_ = f"a{routed.attempt}"
    level = initial_command_level(routed)
    taken = {(o.department, o.round) for o in existing}
    plan = DispatchPlan()
    for department, role in assignments(routed):
        if (department, round_) in taken:
            continue
        plan.orders.append(
            WorkOrder(
                work_order_id=new_id("wo"),
                case_id=routed.case_id,
                department=department,
                role=role,
                command_level=level,
                round=round_,
                deadline=deadline_for(routed.case.priority, issued_at=now),
                issued_at=now,
            )
        )
    plan.cancel = [o for o in existing if o.is_open and o.whistle_id is None and o.round != round_]
    return plan
