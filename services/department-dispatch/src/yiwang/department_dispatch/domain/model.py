"""Dispatch's own view of a case, its work orders and whistles. Pure: no I/O; the time
and new ids are passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseRouted,
    CommandLevel,
    DepartmentRole,
    HandlingTier,
    WorkOrderIssued,
)
from yiwang.common.sla import Deadlines, deadlines_for, policy_for
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain.personal_data import reporter_for

HUB = Department.COMPREHENSIVE_GOVERNANCE  # the county hub (综治中心): triage and rulings
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
    # When the SLA clock of this handling started: intake's receipt, or the moment oversight
    # reopened the case for re-handling.
    clock_started_at: datetime
    return_count: int = 0
    escalations: int = 0  # times dispatch escalated it up the command since the clock started
    ruling_id: str | None = None  # the hub's final ruling (终审) on this routing decision
    rehandling: int = 0  # 1, 2: re-handlings after an unsatisfied evaluation (不满意重办)

    @property
    def township_code(self) -> str | None:
        return self.routed.micro_grid.township_code if self.routed.micro_grid else None

    @property
    def case_number(self) -> str:
        return self.routed.case.case_number

    def deadlines(self) -> Deadlines:
        """The one SLA policy's deadlines for this handling (libs/common sla.py)."""
        return case_deadlines(self.routed, started_at=self.clock_started_at)

    def lead_order(
        self,
        *,
        department: Department,
        level: CommandLevel,
        round_: str,
        now: datetime,
        new_id: NewId,
        ruling_id: str | None = None,
    ) -> WorkOrder:
        """A lead order with the deadline of the case's escalations so far."""
        deadlines = self.deadlines()
        return WorkOrder(
            work_order_id=new_id("wo"),
            case_id=self.case_id,
            case_number=self.case_number,
            department=department,
            role=DepartmentRole.LEAD,
            command_level=level,
            round=round_,
            deadline=deadlines.at_level(self.escalations),
            issued_at=now,
            response_due=deadlines.response_due,
            sla_policy=deadlines.policy,
            ruling_id=ruling_id,
            rehandling=self.rehandling,
        )


@dataclass
class WorkOrder:
    work_order_id: str
    case_id: str
    case_number: str
    department: Department
    role: DepartmentRole
    command_level: CommandLevel
    # One dispatch round: "a1", "a2:county", "w:<whistle id>", "r:<ruling id>", "h1".
    round: str
    deadline: datetime  # resolve by (a whistle summons: report by)
    issued_at: datetime
    status: WorkOrderStatus = WorkOrderStatus.ISSUED
    whistle_id: str | None = None
    response_due: datetime | None = None  # sign for it by (None for a whistle summons)
    sla_policy: str | None = None
    ruling_id: str | None = None  # the hub's ruling named this department: no return
    rehandling: int = 0

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
    blown_by: str | None = None  # who blew it: person:<username>, or township-system:<code>


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


def clock_start(routed: CaseRouted, *, routed_at: datetime) -> datetime:
    """The SLA clock of the first handling starts when intake received the case; for an
    old event without `received_at`, when it was routed (the envelope's time). A matter
    settled in the grid and reopened restarts it at the reopening (`clock_restarted_at`)."""
    return routed.clock_restarted_at or routed.case.received_at or routed_at


def case_deadlines(routed: CaseRouted, *, started_at: datetime) -> Deadlines:
    """The same call oversight makes, so the order's deadlines are the ones it measures."""
    facts = routed.case
    policy = policy_for(
        category=facts.category,
        priority=facts.priority,
        channel=facts.channel,
        sla_class=routed.sla_class,
    )
    return deadlines_for(policy, started_at=started_at)


def initial_command_level(routed: CaseRouted) -> CommandLevel:
    """Township handles grid and township tiers; county-tier and triage cases go to the county."""
    if routed.triage or routed.tier is HandlingTier.COUNTY:
        return CommandLevel.COUNTY
    return CommandLevel.TOWNSHIP


def lead_of(routed: CaseRouted) -> Department:
    # Triage and arbitration belong to the county hub, whatever routing named.
    return HUB if routed.triage else routed.lead_department


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


def escalated_round(round_: str, level: CommandLevel) -> str:
    """The round of an escalated lead order: its handling's round and the level ("a1" and
    "a1:county" give "a1:city"; "h1" gives "h1:county"), so one order per level per handling."""
    head, _, last = round_.rpartition(":")
    base = head if head and last in set(CommandLevel) else round_
    return f"{base}:{level}"


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
        response_due=order.response_due,
        sla_policy=order.sla_policy,
        ruling_id=order.ruling_id,
        rehandling=order.rehandling,
    )


@dataclass
class DispatchPlan:
    """What a CaseRouted turns into: new orders, and earlier ones to withdraw."""

    orders: list[WorkOrder] = field(default_factory=list)
    cancel: list[WorkOrder] = field(default_factory=list)


def plan_dispatch(
    routed: CaseRouted,
    *,
    existing: list[WorkOrder],
    deadlines: Deadlines,
    escalations: int = 0,
    rehandling: int = 0,
    now: datetime,
    new_id: NewId,
) -> DispatchPlan:
    """One order per assigned department for this routing decision's round, with the SLA
    deadline after the case's escalations so far; open orders of earlier rounds withdrawn."""
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
                case_number=routed.case.case_number,
                department=department,
                role=role,
                command_level=level,
                round=round_,
                deadline=deadlines.at_level(escalations),
                issued_at=now,
                response_due=deadlines.response_due,
                sla_policy=deadlines.policy,
                rehandling=rehandling,
            )
        )
    plan.cancel = [o for o in existing if o.is_open and o.whistle_id is None and o.round != round_]
    return plan
