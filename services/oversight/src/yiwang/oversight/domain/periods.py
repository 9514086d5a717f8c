"""Reporting periods: local dates (Asia/Shanghai), both included, and their checks (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from yiwang.common.working_days import end_of_local_day

MAX_PERIOD_DAYS = 366
# The dates anything is reported on: a case before 2000 or after 2100 is a typing error.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class BadPeriod(ValueError):
    """A period or a report day that cannot be reported on; names the parameter at fault."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates, both included, in Asia/Shanghai."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return end_of_local_day(self.first - timedelta(days=1))

    @property
    def end(self) -> datetime:
        return end_of_local_day(self.last)


def check_day(field: str, day: date) -> date:
    """A date within FIRST_DAY..LAST_DAY, else BadPeriod naming the field."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadPeriod(
            field,
            f"{day.isoformat()} is not a date between {FIRST_DAY.isoformat()} and "
            f"{LAST_DAY.isoformat()}",
        )
    return day


def check_period(first: date, last: date) -> Period:
    check_day("from", first)
    check_day("to", last)
    if last < first:
        raise BadPeriod("to", f"must not be before 'from' ({first.isoformat()})")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise BadPeriod("to", f"a period covers at most {MAX_PERIOD_DAYS} days")
    return Period(first, last)


def check_search_bounds(
    first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """The instants between which a search over local receipt dates runs; either end may
    be open, and when both are given they must make a period."""
    if first is not None:
        check_day("from", first)
    if last is not None:
        check_day("to", last)
    if first is not None and last is not None:
        period = check_period(first, last)
        return period.start, period.end
    return (
        Period(first, first).start if first is not None else None,
        end_of_local_day(last) if last is not None else None,
    )


def check_report_day(day: date | None, *, today: date) -> date:
    """The day a daily report covers: the one asked for, by default yesterday; never one
    still to come."""
    chosen = check_day("day", day or today - timedelta(days=1))
    if chosen > today:
        raise BadPeriod("day", "must not be in the future")
    return chosen


def month_end(month: date) -> date:
    """The last day of the month that `month` is in."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def check_report_week(day: date | None, *, today: date) -> Period:
    """The week (Monday to Sunday) a weekly report covers: the one `day` falls in, by
    default last week; never one that has not begun."""
    chosen = check_day("week_of", day or today - timedelta(days=7))
    monday = chosen - timedelta(days=chosen.weekday())
    if monday > today:
        raise BadPeriod("week_of", "the week has not begun yet")
    return Period(monday, monday + timedelta(days=6))


def check_report_month(month: date | None, *, today: date) -> Period:
    """The month a monthly report covers: the one asked for (its first day), by default
    last month; never one that has not begun."""
    first = check_day("month", month or (today.replace(day=1) - timedelta(days=1))).replace(day=1)
    if first > today:
        raise BadPeriod("month", "the month has not begun yet")
    return Period(first, month_end(first))
