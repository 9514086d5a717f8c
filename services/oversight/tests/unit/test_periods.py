"""Reporting periods: local dates, both included, and the refusals that name a field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from yiwang.oversight.domain.periods import (
    BadPeriod,
    check_period,
    check_report_day,
    check_search_bounds,
)

MARCH_2 = date(2026, 3, 2)


def test_a_period_runs_from_local_midnight_to_local_midnight() -> None:
    period = check_period(MARCH_2, MARCH_2)
    assert period.start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    assert period.end == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def test_a_period_backwards_or_too_long_is_refused_naming_to() -> None:
    with pytest.raises(BadPeriod, match="must not be before 'from'") as backwards:
        check_period(date(2026, 3, 5), date(2026, 3, 1))
    assert backwards.value.field == "to"
    with pytest.raises(BadPeriod, match="at most 366 days"):
        check_period(date(2025, 1, 1), date(2026, 1, 2))


def test_search_bounds_may_be_open_at_either_end() -> None:
    assert check_search_bounds(None, None) == (None, None)
    start, end = check_search_bounds(MARCH_2, None)
    assert (start, end) == (datetime(2026, 3, 1, 16, 0, tzinfo=UTC), None)
    assert check_search_bounds(None, MARCH_2) == (None, datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    with pytest.raises(BadPeriod):
        check_search_bounds(MARCH_2, date(2026, 3, 1))


def test_the_report_day_defaults_to_yesterday_and_is_never_to_come() -> None:
    assert check_report_day(None, today=MARCH_2) == date(2026, 3, 1)
    assert check_report_day(MARCH_2, today=MARCH_2) == MARCH_2
    with pytest.raises(BadPeriod, match="must not be in the future") as future:
        check_report_day(date(2026, 3, 3), today=MARCH_2)
    assert future.value.field == "day"


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (date(1, 1, 1), MARCH_2, "from"),
        (MARCH_2, date(9999, 12, 31), "to"),
        (date(1999, 12, 31), MARCH_2, "from"),
        (MARCH_2, date(2101, 1, 1), "to"),
    ],
)
def test_dates_outside_2000_to_2100_are_refused_naming_the_field(
    first: date, last: date, field: str
) -> None:
    with pytest.raises(BadPeriod, match="is not a date between 2000-01-01 and 2100-12-31") as bad:
        check_period(first, last)
    assert bad.value.field == field
    with pytest.raises(BadPeriod) as open_ended:
        check_search_bounds(first if field == "from" else None, last if field == "to" else None)
    assert open_ended.value.field == field
    with pytest.raises(BadPeriod) as report_day:
        check_report_day(date(1, 1, 1), today=MARCH_2)
    assert report_day.value.field == "day"
