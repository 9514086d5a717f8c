"""A deadline crossing a holiday that only a loaded calendar file knows.

chinese-calendar 1.11 stops at 2026, so for 2027 an operator adds the year's holidays and
make-up working days as the State Council publishes them, in a calendar file
(YIWANG_CALENDAR_FILES). The file here is a TEST FIXTURE, not the 2027 notice: a
three-day "test holiday" on Monday-Wednesday 10-12 May 2027 and Saturday 15 May worked
instead. Every service gets it, and a clock that reads Thursday 6 May 2027, 10:00 in
Shanghai when the module starts (running nearly at real speed, as in the petition
journey). A normal case received then has seven working days: Fri 7, Thu 13, Fri 14,
Sat 15, Mon 17, Tue 18 and Wed 19 May; department and oversight both say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from journeys.observer import Wire
from journeys.steps import oversight_case, report, submit, work_orders
from journeys.system import County, county_fixtures

pytestmark = pytest.mark.integration

SPEED = 0.99
RECEIVED_ON = datetime(2027, 5, 6, 2, 0, tzinfo=UTC)  # Thu 6 May 2027, 10:00 Shanghai
HOLIDAY = [date(2027, 5, 10), date(2027, 5, 11), date(2027, 5, 12)]
MAKE_UP = date(2027, 5, 15)
EE = "ecology-environment"
QUARRY = (113.5664, 37.8638)  # township 2
CALENDAR = Path(__file__).resolve().parent / "fixtures" / "calendar-2027-test.json"


def epoch_for(target: datetime, speed: float, *, now: datetime) -> datetime:
    return now + (target - now) / (1 - speed)


def calendar_clock() -> dict[str, str]:
    epoch = epoch_for(RECEIVED_ON, SPEED, now=datetime.now(UTC))
    return {
        "YIWANG_CLOCK_SPEED": str(SPEED),
        "YIWANG_CLOCK_EPOCH": epoch.isoformat(),
        "YIWANG_CALENDAR_FILES": str(CALENDAR),
    }


county, wire = county_fixtures("calendar", extra_env=calendar_clock, departments=(EE,))


def end_of_shanghai_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=16)


def nth_working_day(after: date, n: int) -> date:
    """Counted here, independently of the code under test, from the fixture's dates."""
    day, counted = after, 0
    while counted < n:
        day += timedelta(days=1)
        counted += day == MAKE_UP or (day.weekday() < 5 and day not in HOLIDAY)
    return day


def test_the_fixture_is_what_the_module_says() -> None:
    raw = json.loads(CALENDAR.read_text(encoding="utf-8"))
    assert raw["year"] == 2027
    assert "TEST FIXTURE" in raw["source"]
    assert nth_working_day(date(2027, 5, 6), 7) == date(2027, 5, 19)


async def test_a_deadline_crosses_the_holiday_of_a_loaded_calendar_file(
    county: County, wire: Wire
) -> None:
    case = await submit(county, report("portal", "noise", QUARRY))
    [order] = await work_orders(wire, EE, case["case_id"])
    measured = await oversight_case(
        county, case["case_id"], lambda c: c.get("sla_policy") == "hotline-normal"
    )
    received = datetime.fromisoformat(measured["received_at"]).astimezone(UTC)
    local_day = (received + timedelta(hours=8)).date()
    assert local_day == date(2027, 5, 6)
    due = end_of_shanghai_day(nth_working_day(local_day, 7))
    assert due == end_of_shanghai_day(date(2027, 5, 19))  # Mon-Fri would say 17 May
    assert order.deadline == due
    assert datetime.fromisoformat(measured["resolution_due"]) == due
    assert order.response_due == end_of_shanghai_day(date(2027, 5, 7))


def test_coverage_is_reported_and_a_missing_year_flagged(county: County) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "yiwang.oversight.cli", "calendar", "--years", "2027", "2028"],
        env={**os.environ, **county.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # 2028 is covered by nothing
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "calendar-2027-test.json" in lines["2027"]
    assert "MISSING" in lines["2028"]
    metrics = httpx.get(f"{county.url('oversight')}/metrics", timeout=10).text
    assert 'yiwang_calendar_year_missing{year="2028"} 1.0' in metrics
    assert 'yiwang_calendar_year_missing{year="2027"}' not in metrics


def test_a_bad_calendar_file_stops_a_service_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "2027.json"
    raw = json.loads(CALENDAR.read_text(encoding="utf-8"))
    raw["holidays"].append({"name": "overlap", "from": "2027-05-12", "to": "2027-05-13"})
    bad.write_text(json.dumps(raw), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "yiwang.oversight.app"],
        env={**os.environ, "YIWANG_CALENDAR_FILES": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "holidays[1]" in done.stderr
    assert "overlaps holidays[0]" in done.stderr
