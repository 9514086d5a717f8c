"""The operator command `calendar`: where each year's working days come from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from yiwang.common.clock import ManualClock
from yiwang.common.working_days import (
    Holiday,
    WorkingCalendar,
    YearSchedule,
    install_calendar,
    installed_calendar,
)
from yiwang.oversight import cli

FILE_2027 = YearSchedule(
    year=2027,
    source="TEST FIXTURE",
    holidays=(Holiday("test", date(2027, 5, 10), date(2027, 5, 12)),),
    workdays=frozenset({date(2027, 5, 15)}),
    origin="/etc/yiwang/calendar-2027.json",
)


@pytest.fixture
def calendar() -> Iterator[WorkingCalendar]:
    before = installed_calendar()
    loaded = WorkingCalendar.of([FILE_2027])
    install_calendar(loaded)
    yield loaded
    install_calendar(before)


class Context:
    """What `print_calendar` reads of the command context: the clock."""

    def __init__(self, now: datetime) -> None:
        self.clock = ManualClock(now)


def test_each_year_names_where_its_working_days_come_from(calendar: WorkingCalendar) -> None:
    assert cli.calendar_coverage(calendar, [2026, 2027, 2028]) == [
        (2026, "chinese-calendar tables"),
        (2027, "file /etc/yiwang/calendar-2027.json"),
        (2028, None),
    ]


async def test_a_missing_year_is_printed_and_exits_1(
    calendar: WorkingCalendar, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx: Any = Context(datetime(2027, 3, 1, tzinfo=UTC))
    assert await cli.print_calendar(ctx, years=None) == 1  # 2027 and 2028 by default
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "calendar-2027.json" in lines["2027"]
    assert lines["2028"].startswith("2028  MISSING: Monday-Friday")
    assert "2028" in err
    assert "calendar file" in err
    assert await cli.print_calendar(ctx, years=[2026, 2027]) == 0


@pytest.mark.parametrize(("years", "reason"), [("20x7", "not a year"), ("1999", "between 2000")])
def test_a_bad_year_is_refused_before_anything_runs(
    years: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["calendar", "--years", years])
    assert exited.value.code == 2
    assert reason in capsys.readouterr().err
