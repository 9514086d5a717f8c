"""Timers: which ones a case needs, and what each does when it fires (pure).

Each running clock (response, resolution) gets a ladder of four timers that climbs the
four-level command (四级联动), against the deadlines of the one SLA policy
(`yiwang.common.sla`): the same instants department-dispatch writes on its work orders.

| stage          | fires at                                    | alert        | command level |
|----------------|---------------------------------------------|--------------|---------------|
| warning        | start + WARNING_AT (80 %) of the allowed time | warning    | community     |
| yellow_card    | the deadline                                | yellow_card  | township      |
| red_card       | deadline + ESCALATION_STEP (50 %) of it     | red_card     | county        |
| red_card_city  | deadline + 2 x ESCALATION_STEP (100 %)      | red_card     | city          |

For the resolution clock the red cards fall on `Deadlines.at_level(1)` and `at_level(2)`:
the deadline dispatch gives the county and the city when it escalates the case.

An open case with no activity for STAGNANT_AFTER gets a stagnant timer, and a case
returned twice or more is bounced; both are flagged to the county hub (综治中心). A case
that sits in a hand-off state (received, routed, returned) longer than
`OversightPolicy.stranded_after` is stranded, flagged to the county once per stay. A
resolved case nobody evaluates is closed by its close timer after
`OversightPolicy.close_after_working_days` working days (未评价), unless mediation holds it.

A case in the grid (in_grid, 小事不出网格) gets no department ladder, no stagnant and no
stranded timer: grid-routing owns it and runs the grid clock (it passes the case up by
itself when the grid deadline passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from yiwang.common.events import AlertKind, CommandLevel
from yiwang.common.sla import ESCALATION_STEP, MIN_SPAN, WARNING_AT, Duration, DurationUnit
from yiwang.common.states import CaseState
from yiwang.common.working_days import WorkdayRule, add_working_days, is_workday
from yiwang.oversight.domain.projection import HANDOFF_STATES, CaseProjection

BOUNCE_THRESHOLD = 2
STAGNANT_AFTER = Duration(3, DurationUnit.WORKING_DAYS)


class BadPolicy(ValueError):
    """A setting oversight cannot run its timers with; names the setting."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class OversightPolicy:
    """The county's choices for ending and watching cases (from the settings)."""

    close_after_working_days: int = 3  # a resolved case waits this long for an evaluation
    stranded_after: timedelta = timedelta(minutes=60)  # in a hand-off state, on the clock

    @classmethod
    def of(cls, *, close_after_working_days: int, stranded_after_minutes: int) -> OversightPolicy:
        return check_policy(
            cls(close_after_working_days, timedelta(minutes=stranded_after_minutes))
        )


def check_policy(policy: OversightPolicy) -> OversightPolicy:
    if policy.close_after_working_days < 1:
        raise BadPolicy("OVERSIGHT_CLOSE_AFTER_WORKING_DAYS", "must be at least 1 working day")
    if policy.stranded_after < timedelta(minutes=1):
        raise BadPolicy("OVERSIGHT_STRANDED_AFTER_MINUTES", "must be at least 1 minute")
    return policy


class SlaClock(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"
    ACTIVITY = "activity"  # stagnancy
    HANDOFF = "handoff"  # stranded in a hand-off state
    EVALUATION = "evaluation"  # waiting for the resident's evaluation


class Stage(StrEnum):
    WARNING = "warning"
    YELLOW_CARD = "yellow_card"
    RED_CARD = "red_card"
    RED_CARD_CITY = "red_card_city"
    STAGNANT = "stagnant"
    STRANDED = "stranded"
    CLOSE = "close"  # closed without evaluation (未评价): a state change, not an alert


@dataclass(frozen=True, slots=True)
class Rung:
    stage: Stage
    kind: AlertKind
    level: CommandLevel


LADDER = (
    Rung(Stage.WARNING, AlertKind.WARNING, CommandLevel.COMMUNITY),
    Rung(Stage.YELLOW_CARD, AlertKind.YELLOW_CARD, CommandLevel.TOWNSHIP),
    Rung(Stage.RED_CARD, AlertKind.RED_CARD, CommandLevel.COUNTY),
    Rung(Stage.RED_CARD_CITY, AlertKind.RED_CARD, CommandLevel.CITY),
)
RUNGS = {rung.stage: rung for rung in LADDER}
STAGE_ALERTS: dict[Stage, tuple[AlertKind, CommandLevel]] = {
    **{rung.stage: (rung.kind, rung.level) for rung in LADDER},
    Stage.STAGNANT: (AlertKind.STAGNANT, CommandLevel.COUNTY),
    Stage.STRANDED: (AlertKind.STRANDED, CommandLevel.COUNTY),
}


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """A timer a case needs. (case_id, clock, stage, deadline) identifies it."""

    case_id: str
    clock: SlaClock
    stage: Stage
    deadline: datetime
    due_at: datetime

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.case_id, self.clock.value, self.stage.value, self.deadline)


def ladder(
    *, case_id: str, clock: SlaClock, started_at: datetime, deadline: datetime
) -> list[TimerSpec]:
    """Warning at WARNING_AT of the allowed time, then the deadline and each escalation
    step past it (`Deadlines.at_level`)."""
    span = max(deadline - started_at, MIN_SPAN)
    due = (
        started_at + span * WARNING_AT,
        deadline,
        deadline + span * ESCALATION_STEP,
        deadline + span * (2 * ESCALATION_STEP),
    )
    return [
        TimerSpec(case_id, clock, rung.stage, deadline, at)
        for rung, at in zip(LADDER, due, strict=True)
    ]


def closes_without_evaluation(case: CaseProjection) -> bool:
    """Oversight closes a resolved case nobody evaluates, unless mediation holds it."""
    return case.state is CaseState.RESOLVED and not case.mediation_held


def timers_for(
    case: CaseProjection, *, policy: OversightPolicy, is_workday: WorkdayRule = is_workday
) -> list[TimerSpec]:
    """Every timer the case needs now; timers of stopped clocks are not among them."""
    started, deadlines = case.clock_started_at, case.deadlines
    timers: list[TimerSpec] = []
    if started is not None and deadlines is not None:
        if case.response_running:
            timers += ladder(
                case_id=case.case_id,
                clock=SlaClock.RESPONSE,
                started_at=started,
                deadline=deadlines.response_due,
            )
        if case.resolution_running:
            timers += ladder(
                case_id=case.case_id,
                clock=SlaClock.RESOLUTION,
                started_at=started,
                deadline=deadlines.resolution_due,
            )
    if case.is_open and not case.in_grid and case.last_activity_at is not None:
        quiet_until = STAGNANT_AFTER.after(case.last_activity_at, is_workday=is_workday)
        timers.append(
            TimerSpec(case.case_id, SlaClock.ACTIVITY, Stage.STAGNANT, quiet_until, quiet_until)
        )
    if case.state in HANDOFF_STATES and case.state_at is not None:
        stranded = case.state_at + policy.stranded_after  # one timer per stay
        timers.append(TimerSpec(case.case_id, SlaClock.HANDOFF, Stage.STRANDED, stranded, stranded))
    close = close_due(case, policy=policy, is_workday=is_workday)
    if close is not None:
        timers.append(TimerSpec(case.case_id, SlaClock.EVALUATION, Stage.CLOSE, close, close))
    return timers


def close_due(
    case: CaseProjection, *, policy: OversightPolicy, is_workday: WorkdayRule = is_workday
) -> datetime | None:
    """When the close timer of a resolved case nobody evaluates fires (未评价): the end of
    the `close_after_working_days`-th working day after it was resolved. None when the case
    is not waiting for an evaluation (or mediation holds it)."""
    if not closes_without_evaluation(case) or case.resolved_at is None:
        return None
    return add_working_days(
        case.resolved_at, policy.close_after_working_days, is_workday=is_workday
    )


def is_bounced(case: CaseProjection) -> bool:
    """Returned twice or more (层层甩锅): the county hub must arbitrate."""
    return case.return_count >= BOUNCE_THRESHOLD


def describe_timer(timer: TimerSpec, *, case: CaseProjection) -> str:
    """The alert's reason, for people reading it at the command level it goes to."""
    department = case.lead_department
    who = f" ({department.value})" if department else ""
    deadline = timer.deadline.isoformat()
    if timer.stage is Stage.STAGNANT:
        return f"no activity on the case for {STAGNANT_AFTER} (by {deadline}){who}; flagged to the county hub"
    if timer.stage is Stage.STRANDED:
        state = case.state.value if case.state else "a hand-off state"
        since = case.state_at.isoformat() if case.state_at else "?"
        return (
            f"the case has been '{state}' since {since} and no service has taken it on{who}; "
            "a consumer may be down; flagged to the county hub"
        )
    if timer.stage is Stage.WARNING:
        return f"{timer.clock.value} deadline {deadline} is approaching{who}"
    level = STAGE_ALERTS[timer.stage][1].value
    return f"{timer.clock.value} deadline {deadline} passed{who}; escalated to the {level} level"
