"""Chinese working days: operators' calendar files first, then `chinese-calendar`, then
Monday-Friday, flagged.

China moves working days around public holidays (调休): a Saturday can be a working day
and a Wednesday a holiday, so a plain weekday rule is wrong. The `chinese-calendar` tables
follow the State Council's yearly notice, but a release covers only the years published
when it was made (1.11: up to 2026). An operator adds a year from the notice in a small
file (docs/operations.md, "Calendar"), validated at start-up and overriding the tables.
For a year neither covers, deadlines are still computed (Monday-Friday) but
`yiwang_calendar_year_missing{year}` is set, an alert rule fires and it is logged once.

    {"year": 2027,
     "source": "国务院办公厅关于2027年部分节假日安排的通知",
     "holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-12"}],
     "workdays": ["2027-02-14"]}

`holidays` are closed date ranges off work; `workdays` are weekend days worked instead
(调休上班). Every date must lie in `year`; ranges must not overlap; a make-up working day
must be a Saturday or Sunday outside every holiday.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from prometheus_client import Gauge
from yiwang.common.logs import get_logger

log = get_logger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WorkdayRule = Callable[[date], bool]

CALENDAR_YEAR_MISSING = Gauge(
    "yiwang_calendar_year_missing",
    "1 for a year no calendar file and no chinese-calendar table covers: its deadlines "
    "count Monday-Friday, holidays and make-up working days unknown",
    ["year"],
)


class CalendarFileInvalid(ValueError):
    """A calendar file that cannot be loaded; names the file, the field and the reason."""

    def __init__(self, origin: str, field: str, reason: str) -> None:
        self.origin = origin
        self.field = field
        self.reason = reason
        super().__init__(f"calendar file {origin}: {field}: {reason}")


@dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's holidays and make-up working days, as the State Council published them."""

    year: int
    source: str
    holidays: tuple[Holiday, ...]
    workdays: frozenset[date]
    origin: str = ""

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if any(h.first <= day <= h.last for h in self.holidays):
            return False
        return day.weekday() < 5


def _date(origin: str, where: str, raw: Any) -> date:
    if not isinstance(raw, str):
        raise CalendarFileInvalid(origin, where, f"{raw!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CalendarFileInvalid(origin, where, f"'{raw}' is not a date (YYYY-MM-DD)") from None


def _in_year(origin: str, where: str, day: date, year: int) -> date:
    if day.year != year:
        raise CalendarFileInvalid(
            origin, where, f"{day.isoformat()} is not in the file's year {year}"
        )
    return day


def check_year_schedule(raw: Any, *, origin: str) -> YearSchedule:
    """Validate one calendar file's content; raise CalendarFileInvalid at the first fault."""
    if not isinstance(raw, Mapping):
        raise CalendarFileInvalid(origin, "(file)", "must be a JSON object")
    unknown = set(raw) - {"year", "source", "holidays", "workdays"}
    if unknown:
        raise CalendarFileInvalid(origin, sorted(unknown)[0], "is not a calendar field")
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise CalendarFileInvalid(origin, "year", f"{year!r} is not a year between 2000 and 2100")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CalendarFileInvalid(origin, "source", "name the notice the dates come from")
    holidays_raw = raw.get("holidays")
    if not isinstance(holidays_raw, list) or not holidays_raw:
        raise CalendarFileInvalid(origin, "holidays", "must be a non-empty list")
    holidays: list[Holiday] = []
    for n, item in enumerate(holidays_raw):
        where = f"holidays[{n}]"
        if not isinstance(item, Mapping) or set(item) != {"name", "from", "to"}:
            raise CalendarFileInvalid(origin, where, "must have exactly name, from and to")
        name = item["name"]
        if not isinstance(name, str) or not name.strip():
            raise CalendarFileInvalid(origin, f"{where}.name", "must be a holiday's name")
        first = _in_year(
            origin, f"{where}.from", _date(origin, f"{where}.from", item["from"]), year
        )
        last = _in_year(origin, f"{where}.to", _date(origin, f"{where}.to", item["to"]), year)
        if last < first:
            raise CalendarFileInvalid(origin, f"{where}.to", f"{last} is before from ({first})")
        for m, other in enumerate(holidays):
            if first <= other.last and other.first <= last:
                raise CalendarFileInvalid(
                    origin,
                    where,
                    f"{name} {first}..{last} overlaps holidays[{m}] "
                    f"({other.name} {other.first}..{other.last})",
                )
        holidays.append(Holiday(name.strip(), first, last))
    workdays_raw = raw.get("workdays", [])
    if not isinstance(workdays_raw, list):
        raise CalendarFileInvalid(origin, "workdays", "must be a list of dates")
    workdays: set[date] = set()
    for n, item in enumerate(workdays_raw):
        where = f"workdays[{n}]"
        day = _in_year(origin, where, _date(origin, where, item), year)
        if day.weekday() < 5:
            raise CalendarFileInvalid(
                origin, where, f"{day} is a {day:%A}: make-up working days are weekend days"
            )
        if any(h.first <= day <= h.last for h in holidays):
            raise CalendarFileInvalid(origin, where, f"{day} is inside a holiday")
        if day in workdays:
            raise CalendarFileInvalid(origin, where, f"{day} is listed twice")
        workdays.add(day)
    return YearSchedule(year, source.strip(), tuple(holidays), frozenset(workdays), origin)


def load_calendar_files(paths: Iterable[Path]) -> list[YearSchedule]:
    """Read calendar files (a directory means its *.json); refuse two files for one year."""
    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    schedules: dict[int, YearSchedule] = {}
    for path in files:
        origin = str(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CalendarFileInvalid(origin, "(file)", f"cannot be read: {exc}") from None
        except ValueError as exc:
            raise CalendarFileInvalid(origin, "(file)", f"is not JSON: {exc}") from None
        schedule = check_year_schedule(raw, origin=origin)
        if schedule.year in schedules:
            raise CalendarFileInvalid(
                origin,
                "year",
                f"{schedule.year} is also given by {schedules[schedule.year].origin}",
            )
        schedules[schedule.year] = schedule
    return list(schedules.values())


@dataclass
class WorkingCalendar:
    files: Mapping[int, YearSchedule] = field(default_factory=dict)
    _flagged: set[int] = field(default_factory=set)
    # Answers so far: every deadline walks day by day, and the tables' lookup is slow.
    # A few hundred entries a year of dates ever asked about.
    _known: dict[date, bool] = field(default_factory=dict)
    _after: dict[tuple[date, int], datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, schedules: Sequence[YearSchedule]) -> WorkingCalendar:
        return cls({s.year: s for s in schedules})

    def source_of(self, year: int) -> str | None:
        """Where a year's working days come from; None when nothing covers it."""
        if year in self.files:
            return f"file {self.files[year].origin}"
        try:
            chinese_calendar.is_workday(date(year, 7, 1))
        except NotImplementedError:
            return None
        return "chinese-calendar tables"

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._look_up(day)
        return known

    def working_days_after(self, day: date, days: int) -> datetime:
        """The end of the `days`-th working day after local `day` (remembered: deadlines
        of a day's cases start from a handful of dates)."""
        known = self._after.get((day, days))
        if known is None:
            known = self._after[(day, days)] = _working_days_after(day, days, self.is_workday)
        return known

    def _look_up(self, day: date) -> bool:
        schedule = self.files.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self.flag_missing(day.year)
            return day.weekday() < 5

    def flag_missing(self, year: int) -> None:
        CALENDAR_YEAR_MISSING.labels(str(year)).set(1)
        if year not in self._flagged:
            self._flagged.add(year)
            log.error(
                "no calendar covers this year; its deadlines count Monday-Friday. Add the "
                "State Council's holiday notice as a calendar file (docs/operations.md)",
                year=year,
            )

    def check_years(self, years: Iterable[int]) -> list[int]:
        """Flag the years nothing covers (at start-up: this year and next); return them."""
        missing = [year for year in years if self.source_of(year) is None]
        for year in missing:
            self.flag_missing(year)
        return missing


_CALENDAR = WorkingCalendar()


def calendar_from(paths: Sequence[Path], *, today: date) -> WorkingCalendar:
    """The calendar of a process: its files loaded and checked (CalendarFileInvalid names
    the fault), and this year and next flagged if nothing covers them."""
    calendar = WorkingCalendar.of(load_calendar_files(paths))
    calendar.check_years([today.year, today.year + 1])
    return calendar


def install_calendar(calendar: WorkingCalendar) -> None:
    """The process's calendar, from its settings, installed once at start-up."""
    global _CALENDAR
    _CALENDAR = calendar


def installed_calendar() -> WorkingCalendar:
    return _CALENDAR


def is_workday(day: date) -> bool:
    """True if `day` is a working day in mainland China (holidays and 调休 included)."""
    return _CALENDAR.is_workday(day)


_installed_is_workday = is_workday


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def end_of_local_day(day: date) -> datetime:
    """The instant a local day ends (midnight that starts the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)


def add_working_days(
    start: datetime, days: int, *, is_workday: WorkdayRule = is_workday
) -> datetime:
    """The end of the `days`-th working day after the local date of `start`.

    Counting starts the day after receipt (次日起算), as deadlines in days are counted in
    Chinese administrative practice; the case is due by the end of that working day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if is_workday is _installed_is_workday:
        return _CALENDAR.working_days_after(local_date(start), days)
    return _working_days_after(local_date(start), days, is_workday)


def _working_days_after(day: date, days: int, is_workday: WorkdayRule) -> datetime:
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
