"""The county hub's final ruling (终审) on disputed responsibility: who may rule, when,
and what a ruling does to the case and its orders. Pure: the time and new ids are passed in.

A case reaches the hub for triage or arbitration (the routing decision's `triage`); the hub
either handles it itself or names the department that must handle it. That department may
no longer return it (domain/replies.py RulingIsBinding), and the hub may not return it
either (HubMustRule): this ends the arbitration loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import DepartmentRole, RulingMade
from yiwang.common.states import OPEN_STATES, CaseState, can_transition
from yiwang.department_dispatch.domain.model import (
    HUB,
    DispatchCase,
    NewId,
    WorkOrder,
    WorkOrderStatus,
)


class RulingRefused(Exception):
    """A ruling not made. `code` is the stable reason; `status` and `field` say how HTTP
    answers it."""

    code: str = "ruling_refused"
    status: int = 409
    field: str | None = "case_id"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotTheHub(RulingRefused):
    code = "not_the_hub"
    status = 403
    field = "authorization"


class RulingCaseUnknown(RulingRefused):
    code = "unknown_case"
    status = 404


class CaseNotAtHub(RulingRefused):
    code = "case_not_at_hub"


class AlreadyRuled(RulingRefused):
    code = "already_ruled"


@dataclass(frozen=True)
class Ruling:
    ruling_id: str
    case_id: str
    attempt: int  # the routing decision it rules on
    department: Department
    reason: str
    ruled_by: str  # a hub operator's audit name (person:<username>), or the hub system's code
    ruled_at: datetime
    returned_by: tuple[Department, ...] = ()


def check_ruler(*, hub_operator: bool, department: str | None, name: str) -> None:
    """Only the county hub rules: a hub operator, or the hub's own department system."""
    if not hub_operator and department != HUB.value:
        raise NotTheHub(f"only {HUB.value} rules on disputed responsibility, not {name}")


def check_ruling_allowed(case: DispatchCase | None, *, case_id: str) -> DispatchCase:
    """While the hub holds the case: a triage or arbitration decision, open, not yet ruled."""
    if case is None:
        raise RulingCaseUnknown(f"case {case_id} is not known to dispatch")
    if case.ruling_id is not None:
        raise AlreadyRuled(f"case {case_id} was already ruled on ({case.ruling_id})")
    if not case.routed.triage:
        raise CaseNotAtHub(
            f"case {case_id} was routed to {case.routed.lead_department}, not to the hub for "
            "triage or arbitration"
        )
    if case.state not in OPEN_STATES or not can_transition(case.state, CaseState.DISPATCHED):
        raise CaseNotAtHub(f"case {case_id} is {case.state}; the hub can no longer rule on it")
    return case


def returned_by(case: DispatchCase, orders: list[WorkOrder]) -> tuple[Department, ...]:
    """The departments that returned the case (退单) before it reached the hub."""
    returned = [*case.routed.excluded_departments]
    returned += [
        o.department
        for o in sorted(orders, key=lambda o: o.issued_at)
        if o.status is WorkOrderStatus.RETURNED and o.role is DepartmentRole.LEAD
    ]
    return tuple(d for d in dict.fromkeys(returned) if d is not HUB)


@dataclass
class RulingPlan:
    ruling: Ruling
    order: WorkOrder  # the named department's lead order, bound by the ruling
    cancel: list[WorkOrder]  # the hub's open lead orders
    from_state: CaseState


def plan_ruling(
    case: DispatchCase,
    *,
    department: Department,
    reason: str,
    ruled_by: str,
    orders: list[WorkOrder],
    now: datetime,
    new_id: NewId,
) -> RulingPlan:
    """What the ruling does; moves `case` to DISPATCHED at the named department."""
    ruling = Ruling(
        ruling_id=new_id("ru"),
        case_id=case.case_id,
        attempt=case.attempt,
        department=department,
        reason=reason,
        ruled_by=ruled_by,
        ruled_at=now,
        returned_by=returned_by(case, orders),
    )
    order = case.lead_order(
        department=department,
        level=case.command_level,
        round_=f"r:{ruling.ruling_id}",
        now=now,
        new_id=new_id,
        ruling_id=ruling.ruling_id,
    )
    cancel = [
        o for o in orders if o.is_open and o.role is DepartmentRole.LEAD and o.whistle_id is None
    ]
    from_state = case.state
    case.state, case.lead_department, case.ruling_id = (
        CaseState.DISPATCHED,
        department,
        ruling.ruling_id,
    )
    return RulingPlan(ruling=ruling, order=order, cancel=cancel, from_state=from_state)


def ruling_made(ruling: Ruling) -> RulingMade:
    return RulingMade(
        case_id=ruling.case_id,
        ruling_id=ruling.ruling_id,
        department=ruling.department,
        reason=ruling.reason,
        ruled_by=ruling.ruled_by,
        ruled_at=ruling.ruled_at,
        returned_by=ruling.returned_by,
    )
