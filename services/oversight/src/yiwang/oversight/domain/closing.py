"""How a case ends (结案) after its evaluation, or without one (pure).

- score 3-5: closed at once ("closed after evaluation");
- score 1-2 ("unsatisfied", 不满意): reopened for re-handling (不满意重办): the first time
  to the department that led it, the second time to the county hub; after the hub's
  re-handling an unsatisfied case is closed: the hub's handling stands;
- a case resolved by a mediated agreement is held by mediation: its evaluation is kept,
  but mediation's follow-up of the agreement closes or reopens it;
- a resolved case nobody evaluates is closed by its close timer (未评价), never counted
  as satisfied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState, check_transition
from yiwang.oversight.domain.projection import CaseProjection

CLOSING_SCORE = 3  # 3 and up close the case; 1 and 2 are "unsatisfied"
MAX_REHANDLINGS = 2  # once by the department, once by the hub

CLOSED_AFTER_EVALUATION = "closed after evaluation"
CLOSED_HUB_STANDS = (
    "closed after evaluation: still unsatisfied after the county hub's re-handling, "
    "whose handling stands"
)
CLOSED_WITHOUT_EVALUATION = "closed without evaluation (未评价)"


@dataclass(frozen=True, slots=True)
class Close:
    note: str


@dataclass(frozen=True, slots=True)
class Reopen:
    department: Department | None  # None: the county hub
    to_hub: bool
    rehandling: int
    reason: str


@dataclass(frozen=True, slots=True)
class HeldByMediation:
    """Mediation's follow-up of the agreement ends the case; oversight only records."""


Outcome = Close | Reopen | HeldByMediation


def after_evaluation(case: CaseProjection, *, score: int) -> Outcome:
    """What an evaluation of `score` does to the resolved case."""
    if case.mediation_held:
        return HeldByMediation()
    if score >= CLOSING_SCORE:
        return Close(CLOSED_AFTER_EVALUATION)
    if case.rehandling >= MAX_REHANDLINGS:
        return Close(CLOSED_HUB_STANDS)
    rehandling = case.rehandling + 1
    lead = case.lead_department
    to_hub = rehandling >= MAX_REHANDLINGS or lead is None
    department = None if to_hub else lead
    whom = lead.value if lead is not None and not to_hub else "the county hub"
    return Reopen(
        department=department,
        to_hub=to_hub,
        rehandling=rehandling,
        reason=(
            f"unsatisfied evaluation ({score}/5), re-handling {rehandling} (不满意重办) "
            f"by {whom}, with a new deadline"
        ),
    )


def lifecycle_change(
    case: CaseProjection, *, to: CaseState, actor: str, note: str, at: datetime
) -> CaseStateChanged:
    """Oversight's own step on the case's timeline (evaluated, closed), checked against the
    state machine (IllegalTransition) and carrying the case's facts."""
    if case.state is None:
        raise ValueError(f"case '{case.case_id}' has no state yet")
    check_transition(case_id=case.case_id, current=case.state, target=to)
    return CaseStateChanged(
        case_id=case.case_id,
        case_number=case.case_number,
        from_state=case.state,
        to_state=to,
        actor=actor,
        note=note,
        at=at,
        department=case.lead_department,
        township_code=case.township_code,
        micro_grid=case.micro_grid,
        category=case.category,
        channel=case.channel,
        priority=case.priority,
    )
