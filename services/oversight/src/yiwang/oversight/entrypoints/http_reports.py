"""HTTP routes for KPIs, rankings, ledgers and the daily dispatch report, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from yiwang.common.departments import Department
from yiwang.common.service import Runtime
from yiwang.oversight import reports
from yiwang.oversight.adapters.queries import PostgresOversightReader
from yiwang.oversight.domain.calendar import local_date
from yiwang.oversight.domain.kpi import GroupBy, Kpi, KpiRow
from yiwang.oversight.entrypoints.errors import refusals


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
    return flat


def as_csv(rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


FromDate = Annotated[date, Query(alias="from", description="first local date (Asia/Shanghai)")]
ToDate = Annotated[date, Query(alias="to", description="last local date, included")]


def report_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["reports"])

    def read() -> PostgresOversightReader:
        return PostgresOversightReader(runtime.pool)

    @router.get(
        "/kpis", summary="KPIs per department or township (三率 and more)", response_model=None
    )
    async def kpis(
        first: FromDate,
        last: ToDate,
        group_by: GroupBy = GroupBy.DEPARTMENT,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        with refusals():
            period = reports.check_period(first, last)
        report = await reports.report_kpis(
            reader=read(), period=period, group_by=group_by, as_of=runtime.clock.now()
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

    @router.get("/rankings", summary="Ranking table on one KPI", response_model=None)
    async def rankings(
        first: FromDate,
        last: ToDate,
        group_by: GroupBy = GroupBy.DEPARTMENT,
        by: Kpi = Kpi.SATISFACTION_RATE,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        with refusals():
            period = reports.check_period(first, last)
        ranked = await reports.rank_groups(
            reader=read(), period=period, group_by=group_by, by=by, as_of=runtime.clock.now()
        )
        rows = [{"rank": r.rank, **kpi_columns(r.row)} for r in ranked]
        if format is Format.CSV:
            return as_csv(rows, f"ranking-{by}-{group_by}-{first}-{last}.csv")
        return {"from": first, "to": last, "group_by": group_by, "by": by, "rows": rows}

    @router.get(
        "/ledgers", summary="Each department's open, overdue and closed cases", response_model=None
    )
    async def ledgers(
        department: Department | None = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        now = runtime.clock.now()
        lines = await reports.ledger(
            reader=read(), now=now, department=department.value if department else None
        )
        rows = [asdict(line) for line in lines]
        if format is Format.CSV:
            return as_csv(rows, f"ledger-{local_date(now)}.csv")
        return {"as_of": now, "lines": rows}

    @router.get("/reports/daily", summary="The daily dispatch report (日调度)", response_model=None)
    async def daily(
        day: Annotated[date | None, Query(description="local date; default yesterday")] = None,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        now = runtime.clock.now()
        chosen = day or local_date(now) - timedelta(days=1)
        with refusals():
            if chosen > local_date(now):
                raise reports.BadPeriod("day", "must not be in the future")
        report = await reports.daily_report(reader=read(), day=chosen, now=now)
        rows = [asdict(line) for line in report.lines]
        if format is Format.CSV:
            return as_csv(rows, f"daily-{chosen}.csv")
        return {"day": chosen, "as_of": report.as_of, "lines": rows, "alerts": report.alerts}

    return router
