r"""The mediation workflow as its own small state machine.

    pending --accept--> accepted --agreement--> agreed --honoured--> honoured
       |                   |  \--failed / time limit--> pending at the next rung
       |                   |                           (or referred above the top rung)
       +--decline--> declined, --withdraw--> withdrawn, --refer--> referred
    agreed --not honoured--> pending again at the same rung (reopen) or referred

Every operation has a check_* that raises its own WorkflowRefused subclass, so a forbidden
transition is refused before anything is written. Some steps also move the governance case
(lifecycle_target, checked against the case state machine by check_lifecycle), recorded
as a CaseStateChanged (state_changed); declined and withdrawn disputes also go back to
routing (left_mediation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseLeftMediation,
    CaseRouted,
    CaseStateChanged,
    MediationOutcome,
)
from yiwang.common.states import CaseState, check_transition
from yiwang.mediation.domain.ladder import (
    Committee,
    DisputeType,
    MediationLevel,
    ReferralVenue,
)


class MediationStatus(StrEnum):
    PENDING = "pending"  # at a rung, waiting for its committee to accept (受理)
    ACCEPTED = "accepted"  # being mediated: mediator, sessions, then an outcome
    AGREED = "agreed"  # a mediation agreement (调解协议); follow-up on its performance
    HONOURED = "honoured"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"  # to court or arbitration (诉调对接)
    DECLINED = "declined"


S = MediationStatus
AT_A_RUNG = frozenset({S.PENDING, S.ACCEPTED})
OPEN = frozenset({S.PENDING, S.ACCEPTED, S.AGREED})


@dataclass(frozen=True, slots=True)
class AgreedAmount:
    description: str
    amount: Decimal  # yuan


@dataclass(frozen=True, slots=True)
class Agreement:
    terms: str
    amounts: tuple[AgreedAmount, ...]
    performance_deadline: datetime
    signed_at: datetime
    level: MediationLevel


@dataclass
class MediationCase:
    mediation_id: str
    case_id: str
    dispute_type: DisputeType
    routed: CaseRouted  # facts and placement as grid-routing published them (masked)
    level: MediationLevel
    committee: Committee
    status: MediationStatus
    case_state: CaseState  # the lifecycle state mediation last recorded for the case
    opened_at: datetime
    level_entered_at: datetime
    level_deadline: datetime
    round: int = 1  # one per rung entered (and per reopening): timers name their round
    mediator_id: str | None = None
    amount_in_dispute: Decimal | None = None
    agreement: Agreement | None = None
    follow_up_due: bool = False
    referral_venue: ReferralVenue | None = None
    outcome_reason: str | None = None
    closed_at: datetime | None = None
    sessions: int = field(default=0)


class WorkflowRefused(ValueError):
    """A transition the workflow forbids. `status` and `field` shape the HTTP answer."""

    status = 409
    field = "mediation_id"

    def __init__(self, case: MediationCase, reason: str) -> None:
        self.mediation_id = case.mediation_id
        super().__init__(f"mediation {case.mediation_id} ({case.status}, {case.level}): {reason}")


class MediationClosed(WorkflowRefused):
    pass


class NotPending(WorkflowRefused):
    pass


class NotAccepted(WorkflowRefused):
    pass


class NoMediatorAssigned(WorkflowRefused):
    pass


class NotAgreed(WorkflowRefused):
    pass


class FollowUpNotDue(WorkflowRefused):
    pass


class SessionNotInFuture(WorkflowRefused):
    status = 422
    field = "scheduled_at"


class DeadlineNotInFuture(WorkflowRefused):
    status = 422
    field = "performance_deadline"


def check_open(case: MediationCase) -> None:
    if case.status not in OPEN:
        raise MediationClosed(case, f"the mediation is {case.status}; nothing more can change")


def check_at_a_rung(case: MediationCase) -> None:
    check_open(case)
    if case.status not in AT_A_RUNG:
        raise NotAccepted(case, "an agreement was recorded; only its follow-up remains")


def check_pending(case: MediationCase) -> None:
    check_open(case)
    if case.status is not S.PENDING:
        raise NotPending(case, "only a pending mediation can be accepted or declined")


def check_accepted(case: MediationCase) -> None:
    check_open(case)
    if case.status is not S.ACCEPTED:
        raise NotAccepted(case, "the committee must accept the dispute first")


def check_session(case: MediationCase, *, scheduled_at: datetime, now: datetime) -> None:
    check_accepted(case)
    if case.mediator_id is None:
        raise NoMediatorAssigned(case, "assign a mediator before scheduling a session")
    if scheduled_at <= now:
        raise SessionNotInFuture(case, f"a session must be in the future, not {scheduled_at}")


def check_agreement(case: MediationCase, *, performance_deadline: datetime, now: datetime) -> None:
    check_accepted(case)
    if performance_deadline <= now:
        raise DeadlineNotInFuture(
            case, f"the performance deadline must be in the future, not {performance_deadline}"
        )


def check_follow_up(case: MediationCase, *, honoured: bool, now: datetime) -> None:
    check_open(case)
    if case.status is not S.AGREED or case.agreement is None:
        raise NotAgreed(case, "only an agreement can be followed up")
    deadline = case.agreement.performance_deadline
    if not honoured and now < deadline:
        raise FollowUpNotDue(
            case, f"an agreement cannot be called not honoured before its deadline {deadline}"
        )


# Who the case lifecycle says moved the case. Oversight reads a resolution by this actor as
# a mediated agreement (mediation's follow-up closes it), so it stays the service's name;
# the person who took the step is named in the note and in the mediation's own history.
ACTOR = "mediation"

# The steps that move the governance case, and where to. A dispute declined or withdrawn
# goes back to routing (returned, with a CaseLeftMediation); an honoured agreement, and a
# referral (from a rung, or after an agreement not honoured), close it; a reopened
# agreement takes it back into mediation.
LIFECYCLE_FOR: dict[str, CaseState] = {
    "opened": CaseState.IN_MEDIATION,
    "agreement": CaseState.RESOLVED,
    "declined": CaseState.RETURNED,
    "withdrawn": CaseState.RETURNED,
    "referred": CaseState.CLOSED,
    "honoured": CaseState.CLOSED,
    "reopened": CaseState.IN_MEDIATION,
}
LEFT_MEDIATION = {"declined": MediationOutcome.DECLINED, "withdrawn": MediationOutcome.WITHDRAWN}


def lifecycle_target(step: str) -> CaseState | None:
    """Where a step moves the governance case; None for a step that does not move it."""
    return LIFECYCLE_FOR.get(step)


def check_lifecycle(case: MediationCase, steps: Sequence[str]) -> list[CaseState | None]:
    """Each step's lifecycle target from mediation's view of the case, taken in turn;
    IllegalTransition (nothing written yet) if the case state machine forbids one."""
    current, targets = case.case_state, []
    for step in steps:
        target = lifecycle_target(step)
        if target is not None:
            check_transition(case_id=case.case_id, current=current, target=target)
            current = target
        targets.append(target)
    return targets


def lifecycle_note(
    case: MediationCase, step: str, outcome: str | None, *, by: str | None = None
) -> str:
    """System text only: mediators' free-text reasons may name people, events may not.
    `by`: the person who took the step (their audit name), if not the service itself."""
    return (
        f"mediation {step} at {case.committee.code}"
        + (f" ({outcome})" if outcome and outcome != step else "")
        + (f" by {by}" if by and by != ACTOR else "")
    )


def state_changed(
    case: MediationCase, *, to_state: CaseState, at: datetime, note: str | None
) -> CaseStateChanged:
    """The case lifecycle entry for a step that changes the governance case's state."""
    routed, facts = case.routed, case.routed.case
    return CaseStateChanged(
        case_id=case.case_id,
        case_number=facts.case_number,
        from_state=case.case_state,
        to_state=to_state,
        actor=ACTOR,
        note=note,
        at=at,
        # People's mediation committees work under the justice bureau's guidance.
        department=Department.JUSTICE,
        township_code=routed.micro_grid.township_code if routed.micro_grid else None,
        micro_grid=routed.micro_grid.code if routed.micro_grid else None,
        category=facts.category,
        channel=facts.channel,
        priority=facts.priority,
    )


def left_mediation(case: MediationCase, *, step: str) -> CaseLeftMediation | None:
    """For a dispute declined or withdrawn: the hand-back to routing (case.returned.v1),
    which routes it to its category's lead department. The reason is system text naming the
    committee, never the mediator's own words."""
    outcome = LEFT_MEDIATION.get(step)
    if outcome is None:
        return None
    return CaseLeftMediation(
        case_id=case.case_id,
        mediation_id=case.mediation_id,
        outcome=outcome,
        reason=lifecycle_note(case, step, None),
    )


class UnknownMediation(LookupError):
    def __init__(self, mediation_id: str) -> None:
        self.mediation_id = mediation_id
        super().__init__(f"no mediation '{mediation_id}'")


def check_found(case: MediationCase | None, mediation_id: str) -> MediationCase:
    if case is None:
        raise UnknownMediation(mediation_id)
    return case
