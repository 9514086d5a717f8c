"""The one SLA policy: the deadlines a department is told and oversight measures (pure).

Department-dispatch writes these instants on every work order; oversight raises its
warnings and cards against the same instants. Both call this module with the same inputs
(the case's category, the matrix's `sla_class`, priority, channel and the moment its
clock started), so they cannot disagree.

Defaults (docs/oversight.md explains the choices):
- Beijing 12345 hotline standard: the department signs for the case (our "response")
  within 1 h for emergencies and risks to life or property, 2 h for utilities and extreme
  weather; feedback ("resolution") within 2 h / 24 h / 7 working days / 15 working days
  for emergency / urgent / normal / complex. Normal and complex cases must be signed for
  within 1 working day.
- The responsibility matrix's `sla_class` raises the urgency a category needs whatever the
  reporter chose (a fire hazard is an emergency), and `complex` gives a normal matter the
  complex time. Before routing (no class yet) the category group's floor does the same.
- Petitions (channel petition, a petition category, or class petition), Letters and Visits
  Regulation: accept within 15, conclude within 60 working days, extendable once by 30.
- The grid deadline (小事不出网格): a grid-tier matter handed to its micro-grid's worker
  must be settled on the spot within `GRID_DURATION` (1 working day; `YIWANG_GRID_DEADLINE`
  in every service's settings), or it passes up to the township department by itself.
- The command level: each step a case is escalated up the four-level command (四级联动)
  gives the level it reaches until the next card, `ESCALATION_STEP` of the allowed time
  later: the township has until the deadline (yellow card), the county until 50 % past it
  (red card), the city until 100 % past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from yiwang.common.case import Channel, Priority
from yiwang.common.categories import CATEGORIES, CategoryGroup
from yiwang.common.working_days import (
    WorkdayRule,
    add_calendar_days,
    add_working_days,
    is_workday,
)


class DurationUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"  # calendar days, counted from the day after the start
    WORKING_DAYS = "working_days"  # Chinese working days (holidays and 调休 known)


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: DurationUnit

    def after(self, start: datetime, *, is_workday: WorkdayRule = is_workday) -> datetime:
        """The deadline this duration gives for a clock started at `start`."""
        if self.unit is DurationUnit.HOURS:
            return start + timedelta(hours=self.amount)
        if self.unit is DurationUnit.DAYS:
            return add_calendar_days(start, self.amount)
        return add_working_days(start, self.amount, is_workday=is_workday)

    def plus(self, other: Duration) -> Duration:
        if other.unit is not self.unit:
            raise ValueError(f"cannot add {other.unit} to {self.unit}")
        return Duration(self.amount + other.amount, self.unit)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value.replace('_', ' ')}"


HOURS, DAYS, WORKING_DAYS = DurationUnit.HOURS, DurationUnit.DAYS, DurationUnit.WORKING_DAYS


class SlaClass(StrEnum):
    """The matrix's deadline classes (12345 service standard, Letters and Visits Regulation)."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    GENERAL = "general"
    COMPLEX = "complex"
    PETITION = "petition"


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    name: str
    response: Duration  # acknowledge (签收) deadline
    resolution: Duration  # resolve (办结) / feedback deadline
    extension: Duration | None = None  # how much the resolution deadline may be extended, once


HOTLINE_POLICIES: dict[Priority, SlaPolicy] = {
    Priority.EMERGENCY: SlaPolicy("hotline-emergency", Duration(1, HOURS), Duration(2, HOURS)),
    Priority.URGENT: SlaPolicy("hotline-urgent", Duration(2, HOURS), Duration(24, HOURS)),
    Priority.NORMAL: SlaPolicy(
        "hotline-normal", Duration(1, WORKING_DAYS), Duration(7, WORKING_DAYS)
    ),
    Priority.COMPLEX: SlaPolicy(
        "hotline-complex", Duration(1, WORKING_DAYS), Duration(15, WORKING_DAYS)
    ),
}
PETITION_POLICY = SlaPolicy(
    "petition",
    Duration(15, WORKING_DAYS),
    Duration(60, WORKING_DAYS),
    extension=Duration(30, WORKING_DAYS),
)

_GROUP_FLOOR: dict[CategoryGroup, Priority] = {
    CategoryGroup.SAFETY: Priority.EMERGENCY,
    CategoryGroup.UTILITIES: Priority.URGENT,
}
_CLASS_FLOOR: dict[str, Priority] = {
    SlaClass.EMERGENCY: Priority.EMERGENCY,
    SlaClass.URGENT: Priority.URGENT,
}
# Least urgent first; complex is about effort, not urgency: a complex gas leak is still
# an emergency.
_URGENCY = (Priority.COMPLEX, Priority.NORMAL, Priority.URGENT, Priority.EMERGENCY)


def effective_priority(
    *, category: str | None, priority: Priority | None, sla_class: str | None = None
) -> Priority:
    """The priority the deadlines follow: the case's, raised by its class or category."""
    chosen = priority or Priority.NORMAL
    known = CATEGORIES.get(category or "")
    floors = [chosen]
    if sla_class in _CLASS_FLOOR:
        floors.append(_CLASS_FLOOR[sla_class])
    elif sla_class is None and known is not None and known.group in _GROUP_FLOOR:
        floors.append(_GROUP_FLOOR[known.group])
    urgent = max(floors, key=_URGENCY.index)
    if urgent is Priority.NORMAL and sla_class == SlaClass.COMPLEX:
        return Priority.COMPLEX
    return urgent


def policy_for(
    *,
    category: str | None,
    priority: Priority | None,
    channel: Channel | None,
    sla_class: str | None = None,
) -> SlaPolicy:
    """The SLA policy for a case's category, class, priority and channel."""
    known = CATEGORIES.get(category or "")
    if (
        channel is Channel.PETITION
        or sla_class == SlaClass.PETITION
        or (known is not None and known.group is CategoryGroup.PETITION)
    ):
        return PETITION_POLICY
    return HOTLINE_POLICIES[
        effective_priority(category=category, priority=priority, sla_class=sla_class)
    ]


@dataclass(frozen=True, slots=True)
class Deadlines:
    policy: str
    started_at: datetime
    response_due: datetime
    resolution_due: datetime

    @property
    def resolution_span(self) -> timedelta:
        return max(self.resolution_due - self.started_at, MIN_SPAN)

    def at_level(self, steps: int) -> datetime:
        """The resolution deadline after `steps` escalations up the command."""
        return self.resolution_due + self.resolution_span * (ESCALATION_STEP * max(steps, 0))


MIN_SPAN = timedelta(minutes=1)
ESCALATION_STEP = 0.5
WARNING_AT = 0.8  # of the allowed time: the warning (催办) before a deadline


class ExtensionNotAllowed(ValueError):
    """The case's policy has no extension."""

    field = "case_id"


def check_extension_allowed(policy: SlaPolicy) -> Duration:
    if policy.extension is None:
        raise ExtensionNotAllowed(f"policy '{policy.name}' allows no extension")
    return policy.extension


def deadlines_for(
    policy: SlaPolicy,
    *,
    started_at: datetime,
    extended: bool = False,
    is_workday: WorkdayRule = is_workday,
) -> Deadlines:
    """Both deadlines of a clock started at `started_at` (a case's receipt, or the moment
    it was reopened for re-handling)."""
    resolution = policy.resolution
    if extended and policy.extension is not None:
        resolution = resolution.plus(policy.extension)
    return Deadlines(
        policy=policy.name,
        started_at=started_at,
        response_due=policy.response.after(started_at, is_workday=is_workday),
        resolution_due=resolution.after(started_at, is_workday=is_workday),
    )


# 小事不出网格: how long a grid worker has to settle a grid task before it passes up.
GRID_DURATION = Duration(1, WORKING_DAYS)


class BadDuration(ValueError):
    """A duration setting that is not "<amount> <unit>"."""


def parse_duration(text: str) -> Duration:
    """ "1 working_days", "4 hours", "2 days": a duration from a setting."""
    amount, _, unit = text.strip().partition(" ")
    try:
        return Duration(int(amount), DurationUnit(unit.strip()))
    except ValueError:
        raise BadDuration(
            f"'{text}' is not a duration such as '1 working_days', '4 hours' or '2 days'"
        ) from None


def grid_deadline(
    started_at: datetime,
    *,
    duration: Duration = GRID_DURATION,
    is_workday: WorkdayRule = is_workday,
) -> datetime:
    """When a grid task assigned at `started_at` passes up unless settled: grid-routing
    acts on it and oversight measures it, both from this one function."""
    return duration.after(started_at, is_workday=is_workday)
