"""Working days: calendar files override the tables, are validated, and a missing year is
flagged while deadlines still compute."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from yiwang.common.working_days import (
    CALENDAR_YEAR_MISSING,
    CalendarFileInvalid,
    WorkingCalendar,
    add_working_days,
    calendar_from,
    check_year_schedule,
    end_of_local_day,
    load_calendar_files,
)

# A made-up year for tests: 2031 is far beyond any chinese-calendar release here.
YEAR = 2031


def schedule(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "year": YEAR,
        "source": "test notice",
        "holidays": [
            {"name": "春节", "from": f"{YEAR}-01-22", "to": f"{YEAR}-01-28"},
            {"name": "国庆节", "from": f"{YEAR}-10-01", "to": f"{YEAR}-10-07"},
        ],
        "workdays": [f"{YEAR}-01-19", f"{YEAR}-10-11"],  # a Sunday and a Saturday
    }
    raw.update(overrides)
    return raw


def refused(raw: dict[str, Any]) -> CalendarFileInvalid:
    with pytest.raises(CalendarFileInvalid) as caught:
        check_year_schedule(raw, origin="2031.json")
    return caught.value


def test_a_file_gives_holidays_and_make_up_working_days() -> None:
    year = check_year_schedule(schedule(), origin="2031.json")
    assert not year.is_workday(date(YEAR, 1, 22))  # a Wednesday in the Spring Festival
    assert year.is_workday(date(YEAR, 1, 19))  # a Sunday worked instead
    assert year.is_workday(date(YEAR, 1, 29))
    assert not year.is_workday(date(YEAR, 2, 1))  # a plain Saturday


def test_a_bad_date_names_the_field() -> None:
    bad = schedule(holidays=[{"name": "春节", "from": f"{YEAR}-02-30", "to": f"{YEAR}-03-01"}])
    error = refused(bad)
    assert error.field == "holidays[0].from"
    assert "not a date" in error.reason


def test_overlapping_ranges_are_refused() -> None:
    bad = schedule(
        holidays=[
            {"name": "春节", "from": f"{YEAR}-01-22", "to": f"{YEAR}-01-28"},
            {"name": "春节调整", "from": f"{YEAR}-01-28", "to": f"{YEAR}-01-30"},
        ]
    )
    error = refused(bad)
    assert error.field == "holidays[1]"
    assert "overlaps holidays[0]" in error.reason


def test_a_date_outside_the_year_is_refused() -> None:
    bad = schedule(workdays=[f"{YEAR + 1}-01-03"])
    error = refused(bad)
    assert error.field == "workdays[0]"
    assert f"not in the file's year {YEAR}" in error.reason


def test_a_make_up_day_must_be_a_weekend_day_outside_holidays() -> None:
    assert (
        "make-up working days are weekend days"
        in refused(schedule(workdays=[f"{YEAR}-01-20"])).reason
    )
    assert refused(schedule(workdays=[f"{YEAR}-01-25"])).reason.endswith("inside a holiday")


def test_two_files_for_one_year_are_refused(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(schedule()), encoding="utf-8")
    with pytest.raises(CalendarFileInvalid, match="also given by"):
        load_calendar_files([tmp_path])


def test_a_file_that_is_not_json_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "2031.json"
    path.write_text("{year: 2031", encoding="utf-8")
    with pytest.raises(CalendarFileInvalid, match=r"2031\.json: \(file\): is not JSON"):
        load_calendar_files([path])


def test_a_file_overrides_the_library_tables() -> None:
    # 2026-10-08 is a working day in the tables; a file for 2026 can say otherwise.
    override = schedule(
        year=2026,
        holidays=[{"name": "test", "from": "2026-10-08", "to": "2026-10-09"}],
        workdays=[],
    )
    calendar = WorkingCalendar.of([check_year_schedule(override, origin="2026.json")])
    assert not calendar.is_workday(date(2026, 10, 8))
    assert WorkingCalendar().is_workday(date(2026, 10, 8))
    assert calendar.source_of(2026) == "file 2026.json"
    assert WorkingCalendar().source_of(2026) == "chinese-calendar tables"


def test_a_year_nothing_covers_counts_weekdays_and_is_flagged() -> None:
    calendar = WorkingCalendar()
    assert calendar.source_of(2033) is None
    assert calendar.is_workday(date(2033, 1, 31))  # a Monday, whatever the Spring Festival
    assert CALENDAR_YEAR_MISSING.labels("2033")._value.get() == 1
    start = datetime(2033, 1, 28, 2, tzinfo=UTC)  # a Friday
    due = add_working_days(start, 1, is_workday=calendar.is_workday)
    assert due == end_of_local_day(date(2033, 1, 31))  # the Monday


def test_start_up_flags_this_year_and_next_when_missing(tmp_path: Path) -> None:
    (tmp_path / "2031.json").write_text(json.dumps(schedule()), encoding="utf-8")
    calendar = calendar_from([tmp_path], today=date(2030, 11, 25))
    assert calendar.source_of(YEAR) is not None
    assert CALENDAR_YEAR_MISSING.labels("2030")._value.get() == 1
    assert calendar.check_years([2030, YEAR]) == [2030]
