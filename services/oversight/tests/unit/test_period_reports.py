"""The weekly dispatch report (周调度) and the monthly stock-taking (月盘点): their periods,
their documents and CSV, over fakes; and the commands that print them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from oversight_fakes import T0, FakeAssessments, FakeReader, FakeRepository
from yiwang.common.clock import ManualClock
from yiwang.oversight import cli
from yiwang.oversight.domain.assessment import TownshipAssessment
from yiwang.oversight.domain.kpi import CaseFigures
from yiwang.oversight.domain.periods import BadPeriod, check_report_month, check_report_week
from yiwang.oversight.entrypoints.http_reports import csv_text, period_csv_rows, period_document
from yiwang.oversight.handlers.period_reports import Cadence, period_report

UM = "urban-management"
NOW = datetime(2026, 3, 18, 2, 0, tzinfo=UTC)  # Wednesday 18 March 2026, Shanghai


def test_a_week_runs_monday_to_sunday_and_defaults_to_last_week() -> None:
    today = date(2026, 3, 18)
    last = check_report_week(None, today=today)
    assert (last.first, last.last) == (date(2026, 3, 9), date(2026, 3, 15))
    this = check_report_week(date(2026, 3, 18), today=today)
    assert (this.first, this.last) == (date(2026, 3, 16), date(2026, 3, 22))
    with pytest.raises(BadPeriod) as refused:
        check_report_week(date(2026, 3, 23), today=today)
    assert refused.value.field == "week_of"


def test_a_month_defaults_to_last_month() -> None:
    today = date(2026, 3, 18)
    last = check_report_month(None, today=today)
    assert (last.first, last.last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert check_report_month(date(2024, 2, 1), today=today).last == date(2024, 2, 29)
    with pytest.raises(BadPeriod) as refused:
        check_report_month(date(2026, 4, 1), today=today)
    assert refused.value.field == "month"


def figures(case_id: str, score: int) -> CaseFigures:
    return CaseFigures(
        case_id=case_id,
        lead_department=UM,
        township_code="tw-east",
        lead_history=(UM,),
        returned_by=(),
        return_count=0,
        responded_at=T0,
        resolved_at=T0 + timedelta(hours=3),
        response_due=T0 + timedelta(days=1),
        resolution_due=T0 + timedelta(days=7),
        score=score,
        micro_grid="mg-1",
        grid_outcome="passed_up",
    )


def reader() -> FakeReader:
    assessed = FakeAssessments()
    assessed.kept[("tw-east", UM, date(2026, 3, 1))] = TownshipAssessment(
        "a1", "tw-east", UM, date(2026, 3, 1), 60, None, "person:li", T0
    )
    return FakeReader(
        FakeRepository(), figures=[figures("c1", 5), figures("c2", 2)], assessments=assessed
    )


async def test_the_monthly_report_carries_kpis_and_the_evaluation_score() -> None:
    report = await period_report(
        reader=reader(), cadence=Cadence.MONTHLY, day=date(2026, 3, 1), now=NOW
    )
    document = period_document(report)
    assert (document["period"], document["from"], document["to"]) == (
        "2026-03",
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    (department,) = document["departments"]
    assert department["satisfaction_rate"] == 0.5
    assert department["evaluation_score"] == 0.5 * 60 + 0.5 * 50
    (township,) = document["townships"]
    assert township["settled_in_grid_share"] == 0.0
    assert township["evaluation_score"] is None
    rows = list(csv.DictReader(io.StringIO(csv_text(period_csv_rows(report)))))
    assert [(r["department"], r["evaluation_score"]) for r in rows] == [(UM, "55.0")]


async def test_the_weekly_report_is_labelled_by_iso_week() -> None:
    report = await period_report(reader=reader(), cadence=Cadence.WEEKLY, now=NOW)
    assert report.label == "2026-W11"
    assert period_document(report)["report"] == "weekly"


class Context:
    def __init__(self, now: datetime) -> None:
        self.clock = ManualClock(now)
        self.settings = object()
        self.pool = None


async def test_the_commands_refuse_a_period_to_come(capsys: pytest.CaptureFixture[str]) -> None:
    ctx: Any = Context(NOW)
    with pytest.raises(cli.CommandRefused, match="--week-of"):
        await cli.print_period_report(
            ctx, cadence=Cadence.WEEKLY, day=date(2026, 4, 1), format=cli.Format.JSON
        )
    with pytest.raises(SystemExit):
        cli.main(["monthly-report", "--month", "2026-13"])
    assert "not a month" in capsys.readouterr().err
