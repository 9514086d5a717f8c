"""Escalation: which timers a case needs, and the alert each one raises (pure).

Each running clock (response, resolution) gets a ladder of four timers that climbs the
four-level command (四级联动):

| stage          | fires at                         | alert        | command level |
|----------------|----------------------------------|--------------|---------------|
| warning        | start + 80 % of the allowed time | warning      | community     |
| yellow_card    | the deadline                     | yellow_card  | township      |
| red_card       | deadline + 50 % of allowed time  | red_card     | county        |
| red_card_city  | deadline + 100 % of allowed time | red_card     | city          |

An open case with no activity for STAGNANT_AFTER gets a stagnant timer, and a case
returned twice or more is bounced; both are flagged to the county hub (综治中心).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from yiwang.common.events import AlertKind, CommandLevel
from yiwang.oversight.domain.calendar import WorkdayRule, chinese_workday
from yiwang.oversight.domain.projection import CaseProjection
from yiwang.oversight.domain.sla import Duration, DurationUnit

WARNING_FRACTION = 0.8
BOUNCE_THRESHOLD = 2
STAGNANT_AFTER = Duration(3, DurationUnit.WORKING_DAYS)
MIN_SPAN = timedelta(minutes=1)


class SlaClock(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"
    ACTIVITY = "activity"  # stagnancy


class Stage(StrEnum):
    WARNING = "warning"
    YELLOW_CARD = "yellow_card"
    RED_CARD = "red_card"
    RED_CARD_CITY = "red_card_city"
    STAGNANT = "stagnant"


@dataclass(frozen=True, slots=True)
class Rung:
    stage: Stage
    kind: AlertKind
    level: CommandLevel
    offset_fraction: float  # of the allowed time, from the deadline (negative: before it)


LADDER = (
    Rung(Stage.WARNING, AlertKind.WARNING, CommandLevel.COMMUNITY, WARNING_FRACTION - 1.0),
    Rung(Stage.YELLOW_CARD, AlertKind.YELLOW_CARD, CommandLevel.TOWNSHIP, 0.0),
    Rung(Stage.RED_CARD, AlertKind.RED_CARD, CommandLevel.COUNTY, 0.5),
    Rung(Stage.RED_CARD_CITY, AlertKind.RED_CARD, CommandLevel.CITY, 1.0),
)
RUNGS = {rung.stage: rung for rung in LADDER}
STAGE_ALERTS: dict[Stage, tuple[AlertKind, CommandLevel]] = {
    **{rung.stage: (rung.kind, rung.level) for rung in LADDER},
    Stage.STAGNANT: (AlertKind.STAGNANT, CommandLevel.COUNTY),
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
    span = max(deadline - started_at, MIN_SPAN)
    return [
        TimerSpec(case_id, clock, rung.stage, deadline, deadline + span * rung.offset_fraction)
        for rung in LADDER
    ]


def timers_for(
    case: CaseProjection, *, is_workday: WorkdayRule = chinese_workday
) -> list[TimerSpec]:
    """Every timer the case needs now; timers of stopped clocks are not among them."""
    started, deadlines = case.started_at, case.deadlines
    if started is None or deadlines is None:
        return []
    timers: list[TimerSpec] = []
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
    if case.is_open and case.last_activity_at is not None:
        quiet_until = STAGNANT_AFTER.after(case.last_activity_at, is_workday=is_workday)
        timers.append(
            TimerSpec(case.case_id, SlaClock.ACTIVITY, Stage.STAGNANT, quiet_until, quiet_until)
        )
    return timers


def is_bounced(case: CaseProjection) -> bool:
    """Returned twice or more (层层甩锅): the county hub must arbitrate."""
    return case.return_count >= BOUNCE_THRESHOLD


def describe_timer(timer: TimerSpec, *, department: str | None) -> str:
    """The alert's reason, for people reading it at the command level it goes to."""
    who = f" ({department})" if department else ""
    deadline = timer.deadline.isoformat()
    if timer.stage is Stage.STAGNANT:
        return f"no activity on the case for {STAGNANT_AFTER} (by {deadline}){who}; flagged to the county hub"
    if timer.stage is Stage.WARNING:
        return f"{timer.clock.value} deadline {deadline} is approaching{who}"
    level = STAGE_ALERTS[timer.stage][1].value
    return f"{timer.clock.value} deadline {deadline} passed{who}; escalated to the {level} level"
