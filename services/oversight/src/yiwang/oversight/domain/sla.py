"""SLA policies by category, priority and channel, and the deadlines they give (pure).

Defaults (docs/oversight.md explains the choices):
- Beijing 12345 hotline standard: dispatch (the department signs for the case, our
  "response") within 1 h for emergencies and risks to life or property, 2 h for
  utilities and extreme weather; feedback ("resolution") within 2 h / 24 h / 7 working
  days / 15 working days for emergency / urgent / normal / complex priority. Normal and
  complex cases must be signed for within 1 working day.
- Petitions (channel petition, or a petition category), Letters and Visits Regulation:
  a decision on acceptance within 15 days, a conclusion within 60 days, extendable once
  by 30 days, counted in working days (as petition offices count them in practice), so a
  Spring Festival or National Day week does not eat into the petitioner's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from yiwang.common.case import Channel, Priority
from yiwang.common.categories import CATEGORIES, CategoryGroup
from yiwang.oversight.domain.calendar import (
    WorkdayRule,
    add_calendar_days,
    add_working_days,
    chinese_workday,
)


class DurationUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"  # calendar days, counted from the day after the start
    WORKING_DAYS = "working_days"  # Chinese working days (holidays and 调休 known)


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: DurationUnit

    def after(self, start: datetime, *, is_workday: WorkdayRule = chinese_workday) -> datetime:
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

# Categories that raise the priority floor: risks to life or property are emergencies,
# utilities outages at least urgent, whatever priority the reporter chose.
_PRIORITY_FLOOR: dict[CategoryGroup, Priority] = {
    CategoryGroup.SAFETY: Priority.EMERGENCY,
    CategoryGroup.UTILITIES: Priority.URGENT,
}
_PRIORITY_ORDER = (Priority.COMPLEX, Priority.NORMAL, Priority.URGENT, Priority.EMERGENCY)


def effective_priority(*, category: str | None, priority: Priority | None) -> Priority:
    """The priority the deadlines follow: the case's, raised by its category's floor."""
    chosen = priority or Priority.NORMAL
    known = CATEGORIES.get(category or "")
    floor = _PRIORITY_FLOOR.get(known.group) if known else None
    if floor is None:
        return chosen
    # Complex is about effort, not urgency: a complex gas leak is still an emergency.
    return max(chosen, floor, key=_PRIORITY_ORDER.index)


def policy_for(
    *, category: str | None, priority: Priority | None, channel: Channel | None
) -> SlaPolicy:
    """The SLA policy for a case's category, priority and channel."""
    known = CATEGORIES.get(category or "")
    if channel is Channel.PETITION or (known is not None and known.group is CategoryGroup.PETITION):
        return PETITION_POLICY
    return HOTLINE_POLICIES[effective_priority(category=category, priority=priority)]


@dataclass(frozen=True, slots=True)
class Deadlines:
    policy: str
    response_due: datetime
    resolution_due: datetime


class ExtensionNotAllowed(ValueError):
    """The case's policy has no extension."""


def check_extension_allowed(policy: SlaPolicy) -> Duration:
    if policy.extension is None:
        raise ExtensionNotAllowed(f"policy '{policy.name}' allows no extension")
    return policy.extension


def deadlines_for(
    policy: SlaPolicy,
    *,
    started_at: datetime,
    extended: bool = False,
    is_workday: WorkdayRule = chinese_workday,
) -> Deadlines:
    """Both deadlines of a case whose clocks started at `started_at` (its receipt)."""
    resolution = policy.resolution
    if extended and policy.extension is not None:
        resolution = resolution.plus(policy.extension)
    return Deadlines(
        policy=policy.name,
        response_due=policy.response.after(started_at, is_workday=is_workday),
        resolution_due=resolution.after(started_at, is_workday=is_workday),
    )
