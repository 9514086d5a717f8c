"""Re-handling after an unsatisfied evaluation (不满意重办): oversight reopens a resolved
case; dispatch gives it a new lead order with a fresh SLA clock from the reopening. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.events import CaseReopened, CommandLevel, DepartmentRole
from yiwang.common.states import CaseState, check_transition
from yiwang.department_dispatch.domain.model import (
    HUB,
    DispatchCase,
    NewId,
    WorkOrder,
    initial_command_level,
)

REHANDLING_NOTE = "re-handling after an unsatisfied evaluation (不满意重办)"
# What dispatch last saw of a case oversight reopens: the lead resolved it. Oversight
# evaluated it since (RESOLVED -> EVALUATED), which dispatch does not consume.
REOPENABLE = frozenset({CaseState.RESOLVED, CaseState.EVALUATED})


class ReopenNotApplied(Exception):
    """A CaseReopened dispatch does not act on; `reason` is a bounded metric label."""

    reason: str = "not_applied"


class ReopenedCaseUnknown(ReopenNotApplied):
    reason = "unknown_case"


class AlreadyRehandled(ReopenNotApplied):
    reason = "already_rehandled"


class ReopenedCaseNotResolved(ReopenNotApplied):
    reason = "not_resolved"


def check_reopen(case: DispatchCase | None, reopened: CaseReopened) -> DispatchCase:
    if case is None:
        raise ReopenedCaseUnknown(f"case {reopened.case_id} was never dispatched")
    if reopened.rehandling <= case.rehandling:
        raise AlreadyRehandled(
            f"case {case.case_id} is already in re-handling {case.rehandling}; "
            f"re-handling {reopened.rehandling} comes too late"
        )
    if case.state not in REOPENABLE:
        raise ReopenedCaseNotResolved(
            f"case {case.case_id} is {case.state} for dispatch; only a resolved case is reopened"
        )
    check_transition(case_id=case.case_id, current=CaseState.EVALUATED, target=CaseState.DISPATCHED)
    return case


@dataclass
class RehandlingPlan:
    order: WorkOrder
    cancel: list[WorkOrder]  # open orders of the earlier handling (assistants still at it)


def plan_rehandling(
    case: DispatchCase,
    reopened: CaseReopened,
    *,
    orders: list[WorkOrder],
    now: datetime,
    new_id: NewId,
) -> RehandlingPlan:
    """A new lead order to the named department (the hub when `to_hub`), its clock started at
    the reopening and escalations reset; moves `case` to DISPATCHED."""
    department = HUB if reopened.to_hub else (reopened.department or case.lead_department)
    # A ruling binds the department it named through its re-handling too.
    ruling_id = case.ruling_id if department == case.lead_department else None
    case.clock_started_at = reopened.reopened_at
    case.escalations = 0
    case.rehandling = reopened.rehandling
    case.command_level = (
        CommandLevel.COUNTY if reopened.to_hub else initial_command_level(case.routed)
    )
    case.lead_department = department
    case.state = CaseState.DISPATCHED
    order = case.lead_order(
        department=department,
        level=case.command_level,
        round_=f"h{reopened.rehandling}",
        now=now,
        new_id=new_id,
        ruling_id=ruling_id,
    )
    cancel = [o for o in orders if o.is_open and o.whistle_id is None]
    return RehandlingPlan(order=order, cancel=cancel)


def is_hub_rehandling(order: WorkOrder) -> bool:
    """The hub's own re-handling (the second one): its handling stands."""
    return order.department is HUB and order.role is DepartmentRole.LEAD and order.rehandling >= 2
