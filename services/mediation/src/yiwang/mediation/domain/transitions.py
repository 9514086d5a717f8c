"""What each workflow operation does to a mediation case, returning the steps to record.

Callers run the matching check_* first (domain.workflow); these functions assume it passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from yiwang.common.events import CaseRouted
from yiwang.common.states import CaseState
from yiwang.mediation.domain.ladder import (
    MediationLevel,
    ReferralVenue,
    committee_for,
    default_venue,
    dispute_type_for,
    next_level,
    starting_level,
)
from yiwang.mediation.domain.workflow import AT_A_RUNG, Agreement, MediationCase
from yiwang.mediation.domain.workflow import MediationStatus as S

# The durable timers: a rung's time limit, and an agreement's performance deadline.
LEVEL_EXPIRY, FOLLOW_UP = "level_expiry", "follow_up"


@dataclass(frozen=True, slots=True)
class Step:
    """One entry in the mediation's history, and one MediationProgressed on the wire."""

    step: str
    level: MediationLevel
    outcome: str | None = None
    note: str | None = None


def open_mediation(
    routed: CaseRouted,
    *,
    mediation_id: str,
    now: datetime,
    time_limit: timedelta,
    county_code: str,
) -> tuple[MediationCase, Step]:
    dispute_type = dispute_type_for(routed.case.category)
    level = starting_level(routed.micro_grid)
    committee = committee_for(
        level, micro_grid=routed.micro_grid, dispute_type=dispute_type, county_code=county_code
    )
    case = MediationCase(
        mediation_id=mediation_id,
        case_id=routed.case_id,
        dispute_type=dispute_type,
        routed=routed,
        level=level,
        committee=committee,
        status=S.PENDING,
        case_state=CaseState.ROUTED,
        opened_at=now,
        level_entered_at=now,
        level_deadline=now + time_limit,
    )
    return case, Step("opened", level, note=f"{dispute_type} dispute to {committee.code}")


def accept(case: MediationCase) -> Step:
    case.status = S.ACCEPTED
    return Step("accepted", case.level, note=f"accepted by {case.committee.code}")


def assign(case: MediationCase, mediator_id: str) -> Step:
    case.mediator_id = mediator_id
    return Step("mediator_assigned", case.level, note=mediator_id)


def schedule_session(case: MediationCase, *, scheduled_at: datetime) -> Step:
    case.sessions += 1
    return Step("session_scheduled", case.level, note=f"session {case.sessions} at {scheduled_at}")


def decline(case: MediationCase, *, reason: str, now: datetime) -> Step:
    _close(case, S.DECLINED, reason=reason, now=now)
    return Step("declined", case.level, outcome="declined", note=reason)


def record_agreement(case: MediationCase, agreement: Agreement) -> Step:
    case.status = S.AGREED
    case.agreement = agreement
    case.mediator_id = None  # the mediator's work is done; follow-up is the committee's
    return Step(
        "agreement",
        case.level,
        outcome="agreement",
        note=f"to be performed by {agreement.performance_deadline}",
    )


def withdraw(case: MediationCase, *, reason: str, now: datetime) -> Step:
    _close(case, S.WITHDRAWN, reason=reason, now=now)
    return Step("withdrawn", case.level, outcome="withdrawn", note=reason)


def refer(case: MediationCase, *, venue: ReferralVenue | None, reason: str, now: datetime) -> Step:
    case.referral_venue = venue or default_venue(case.dispute_type)
    _close(case, S.REFERRED, reason=reason, now=now)
    return Step("referred", case.level, outcome=case.referral_venue, note=reason)


def escalate(
    case: MediationCase, *, cause: str, reason: str, now: datetime, time_limit: timedelta
) -> list[Step]:
    """Mediation failed at this rung (cause 'failed' or 'expired'): move up, or refer."""
    steps = [Step(cause, case.level, outcome=cause, note=reason)]
    above = next_level(case.level)
    if above is None:
        steps.append(refer(case, venue=None, reason=f"{cause} at the top rung: {reason}", now=now))
        return steps
    enter_level(case, above, now=now, time_limit=time_limit)
    steps.append(Step("escalated", above, note=f"to {case.committee.code}"))
    return steps


def enter_level(
    case: MediationCase, level: MediationLevel, *, now: datetime, time_limit: timedelta
) -> None:
    case.level = level
    case.committee = committee_for(
        level,
        micro_grid=case.routed.micro_grid,
        dispute_type=case.dispute_type,
        county_code=case.committee.area_code,  # only used with no micro-grid
    )
    case.status = S.PENDING
    case.mediator_id = None
    case.round += 1
    case.level_entered_at = now
    case.level_deadline = now + time_limit


def follow_up_due(case: MediationCase) -> Step:
    case.follow_up_due = True
    return Step("follow_up_due", case.level, note="the performance deadline has come")


def timer_fired(
    case: MediationCase, *, kind: str, round: int, now: datetime, time_limit: timedelta
) -> list[Step]:
    """What a due timer does; nothing (a stale timer) if the case left that round or state."""
    if case.round != round:
        return []
    if kind == LEVEL_EXPIRY and case.status in AT_A_RUNG:
        reason = f"time limit of {time_limit.days} days passed"
        return escalate(case, cause="expired", reason=reason, now=now, time_limit=time_limit)
    if kind == FOLLOW_UP and case.status is S.AGREED:
        return [follow_up_due(case)]
    return []


def honoured(case: MediationCase, *, note: str | None, now: datetime) -> Step:
    _close(case, S.HONOURED, reason=note, now=now)
    return Step("honoured", case.level, outcome="honoured", note=note)


def not_honoured(
    case: MediationCase, *, reopen: bool, note: str | None, now: datetime, time_limit: timedelta
) -> list[Step]:
    steps = [Step("not_honoured", case.level, outcome="not_honoured", note=note)]
    case.follow_up_due = False
    if not reopen:
        steps.append(refer(case, venue=None, reason=note or "agreement not honoured", now=now))
        return steps
    case.agreement = None
    enter_level(case, case.level, now=now, time_limit=time_limit)
    steps.append(Step("reopened", case.level, note=note))
    return steps


def _close(case: MediationCase, status: S, *, reason: str | None, now: datetime) -> None:
    case.status = status
    case.outcome_reason = reason
    case.closed_at = now
    case.mediator_id = None
