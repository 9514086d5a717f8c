"""HTTP routes for KPIs, rankings, ledgers and the daily, weekly and monthly reports
(日调度, 周调度, 月盘点), as JSON or CSV: for the county hub, auditors, administrators,
township officials and department staff.

The flat rows and the CSV text are made here once (`kpi_columns`, `daily_document`,
`period_document`, `period_csv_rows`, `csv_text`); the operator commands
`cli.py daily-report`, `weekly-report` and `monthly-report` print the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.working_days import local_date
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.access import READING_ROLES
from yiwang.oversight.domain.assessment import MONTH_PATTERN, EvaluationWeights, parse_month
from yiwang.oversight.domain.kpi import RANK_BY_NAMES, GroupBy, Kpi, KpiRow, RankBy, parse_rank_by
from yiwang.oversight.domain.periods import FIRST_DAY, LAST_DAY
from yiwang.oversight.handlers import period_reports, reports
from yiwang.oversight.handlers.period_reports import Cadence, PeriodReport
from yiwang.oversight.handlers.reports import DailyReport, DailyReportLine


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


def kpi_columns(row: KpiRow) -> dict[str, Any]:
    """One flat row: each rate with its numerator and denominator, for CSV and JSON alike."""
    flat: dict[str, Any] = {"group": row.group, "cases": row.cases}
    for kpi, ratio in row.rates.items():
        flat[kpi.value] = None if ratio.value is None else round(ratio.value, 4)
        flat[f"{kpi.value}_numerator"] = ratio.numerator
        flat[f"{kpi.value}_denominator"] = ratio.denominator
    # 一考双评, for departments (None in other rows, so every row has the same columns).
    evaluation = row.evaluation
    flat["evaluation_score"] = evaluation.score if evaluation else None
    flat["township_score"] = evaluation.township_score if evaluation else None
    flat["township_assessments"] = evaluation.assessments if evaluation else None
    flat["residents_score"] = evaluation.residents_score if evaluation else None
    return flat


def daily_document(report: DailyReport) -> dict[str, Any]:
    """The daily report as JSON: its `lines` are the CSV's rows."""
    return {
        "day": report.day,
        "as_of": report.as_of,
        "lines": [asdict(line) for line in report.lines],
        "alerts": report.alerts,
    }


def period_document(report: PeriodReport) -> dict[str, Any]:
    """A weekly or monthly report as JSON: the daily report's body for the period, and the
    KPIs of the cases received in it per department (with the evaluation score) and per
    township (with the settled-in-grid share)."""
    return {
        "report": report.cadence,
        "period": report.label,
        "from": report.period.first,
        "to": report.period.last,
        "as_of": report.as_of,
        "lines": [asdict(line) for line in report.lines],
        "alerts": report.alerts,
        "departments": [kpi_columns(row) for row in report.departments],
        "townships": [kpi_columns(row) for row in report.townships],
        "overall": kpi_columns(report.overall),
    }


# The KPI columns a weekly or monthly report's CSV line carries beside the flows.
REPORT_KPIS = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_rate",
    "evaluation_score",
)


def period_csv_rows(report: PeriodReport) -> list[dict[str, Any]]:
    """One CSV row per department: the period's flows, open and overdue now, and its
    three rates, on-time rate and evaluation score."""
    kpis = {row.group: kpi_columns(row) for row in report.departments}
    lines = {line.department: asdict(line) for line in report.lines}
    for department in kpis.keys() - lines.keys():
        lines[department] = asdict(DailyReportLine(department, *([0] * 8)))
    return [
        {
            **lines[department],
            **{k: kpis.get(department, {}).get(k) for k in REPORT_KPIS},
        }
        for department in sorted(lines)
    ]


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows of one shape as CSV, with a header line; nothing at all for no rows."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def as_csv(rows: list[dict[str, Any]], filename: str) -> Response:
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


SPAN = f"{FIRST_DAY} to {LAST_DAY}"
FromDate = Annotated[
    date, Query(alias="from", description=f"first local date (Asia/Shanghai), {SPAN}")
]
ToDate = Annotated[date, Query(alias="to", description=f"last local date, included, {SPAN}")]
RankByName = Annotated[
    str,
    Query(description=f"one of {', '.join(RANK_BY_NAMES)}", max_length=64),
    AfterValidator(parse_rank_by),
]


def report_router(
    *,
    reader: Callable[[], OversightReader],
    clock: Clock,
    authenticate: Authenticate,
    weights: EvaluationWeights | None = None,
) -> APIRouter:
    router = APIRouter(tags=["reports"])
    can_read = allow(authenticate, *READING_ROLES)

    @router.get(
        "/kpis",
        summary="KPIs per department or township (三率 and more)",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def kpis(
        first: FromDate,
        last: ToDate,
        group_by: GroupBy = GroupBy.DEPARTMENT,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        report = await reports.report_kpis(
            reader=reader(),
            first=first,
            last=last,
            group_by=group_by,
            as_of=clock.now(),
            weights=weights,
        )
        rows = [kpi_columns(row) for row in [*report.rows, report.overall]]
        if format is Format.CSV:
            return as_csv(rows, f"kpis-{group_by}-{first}-{last}.csv")
        return {
            "from": first,
            "to": last,
            "group_by": group_by,
            "as_of": report.as_of,
            "rows": rows[:-1],
            "overall": rows[-1],
        }

    @router.get(
        "/rankings",
        summary="Ranking table on one KPI, or on the evaluation score (一考双评, departments)",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def rankings(
        first: FromDate,
        last: ToDate,
        group_by: GroupBy = GroupBy.DEPARTMENT,
        by: RankByName = Kpi.SATISFACTION_RATE.value,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        ranked_by: RankBy = parse_rank_by(by)
        ranked = await reports.rank_groups(
            reader=reader(),
            first=first,
            last=last,
            group_by=group_by,
            by=ranked_by,
            as_of=clock.now(),
            weights=weights,
        )
        rows = [{"rank": r.rank, **kpi_columns(r.row)} for r in ranked]
        if format is Format.CSV:
            return as_csv(rows, f"ranking-{by}-{group_by}-{first}-{last}.csv")
        return {"from": first, "to": last, "group_by": group_by, "by": by, "rows": rows}

    @router.get(
        "/ledgers",
        summary="Each department's open, overdue and closed cases",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def ledgers(
        department: Department | None = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        now = clock.now()
        lines = await reports.ledger(
            reader=reader(), now=now, department=department.value if department else None
        )
        rows = [asdict(line) for line in lines]
        if format is Format.CSV:
            return as_csv(rows, f"ledger-{local_date(now)}.csv")
        return {"as_of": now, "lines": rows}

    @router.get(
        "/reports/daily",
        summary="The daily dispatch report (日调度)",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def daily(
        day: Annotated[
            date | None, Query(description=f"local date, {SPAN}; default yesterday")
        ] = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        report = await reports.daily_report(reader=reader(), day=day, now=clock.now())
        document = daily_document(report)
        if format is Format.CSV:
            return as_csv(document["lines"], f"daily-{report.day}.csv")
        return document

    async def period(
        cadence: Cadence, day: date | None, format: Format
    ) -> dict[str, Any] | Response:
        report = await period_reports.period_report(
            reader=reader(), cadence=cadence, day=day, now=clock.now(), weights=weights
        )
        if format is Format.CSV:
            return as_csv(period_csv_rows(report), f"{cadence}-{report.label}.csv")
        return period_document(report)

    @router.get(
        "/reports/weekly",
        summary="The weekly dispatch report (周调度), Monday to Sunday",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def weekly(
        week_of: Annotated[
            date | None,
            Query(description=f"a local date in the week, {SPAN}; default last week"),
        ] = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        return await period(Cadence.WEEKLY, week_of, format)

    @router.get(
        "/reports/monthly",
        summary="The monthly stock-taking (月盘点)",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def monthly(
        month: Annotated[
            str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM; default last month")
        ] = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        return await period(Cadence.MONTHLY, parse_month(month) if month else None, format)

    return router
