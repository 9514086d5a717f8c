"""Working-day arithmetic on the Chinese calendar, in Asia/Shanghai local dates (pure).

China moves working days around public holidays (调休): a Saturday can be a working day
and a Wednesday a holiday, so a plain weekday rule is wrong. `chinese_workday` asks the
`chinese-calendar` tables (published each year by the State Council); for a year those
tables do not cover yet it falls back to Monday-Friday, because a deadline must always be
computable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

WorkdayRule = Callable[[date], bool]


def chinese_workday(day: date) -> bool:
    """True if `day` is a working day in mainland China (holidays and 调休 included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the tables do not cover yet
        return day.weekday() < 5


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def end_of_local_day(day: date) -> datetime:
    """The instant a local day ends (midnight that starts the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)


def add_working_days(
    start: datetime, days: int, *, is_workday: WorkdayRule = chinese_workday
) -> datetime:
    """The end of the `days`-th working day after the local date of `start`.

    Counting starts the day after receipt (次日起算), as deadlines in days are counted in
    Chinese administrative practice; the case is due by the end of that working day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    day = local_date(start)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return end_of_local_day(day)


def add_calendar_days(start: datetime, days: int) -> datetime:
    """The end of the `days`-th calendar day after the local date of `start`."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return end_of_local_day(local_date(start) + timedelta(days=days))
