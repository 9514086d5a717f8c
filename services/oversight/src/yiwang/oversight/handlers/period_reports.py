"""The weekly dispatch report (周调度) and the monthly stock-taking (月盘点), beside the
daily report (日调度, `reports.daily_report`).

Both have the daily report's body for their period (per department the flows during it,
open and overdue now, the alerts raised in it), plus the KPIs of the cases received in
it: per department with the 一考双评 evaluation score, per township with the
settled-in-grid share. A week runs Monday to Sunday; by default the last one, and the
last month. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from yiwang.common.working_days import local_date
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.assessment import EvaluationWeights
from yiwang.oversight.domain.kpi import GroupBy, KpiRow
from yiwang.oversight.domain.periods import Period, check_report_month, check_report_week
from yiwang.oversight.handlers.reports import DailyReportLine, dispatch_lines, report_kpis


class Cadence(StrEnum):
    WEEKLY = "weekly"  # 周调度
    MONTHLY = "monthly"  # 月盘点


@dataclass(frozen=True, slots=True)
class PeriodReport:
    cadence: Cadence
    period: Period
    as_of: datetime
    lines: list[DailyReportLine]
    alerts: list[dict[str, Any]]
    departments: list[KpiRow]
    townships: list[KpiRow]
    overall: KpiRow

    @property
    def label(self) -> str:
        """2026-W10 for a week, 2026-03 for a month."""
        if self.cadence is Cadence.WEEKLY:
            year, week, _ = self.period.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.period.first:%Y-%m}"


async def period_report(
    *,
    reader: OversightReader,
    cadence: Cadence,
    day: date | None = None,
    now: datetime,
    weights: EvaluationWeights | None = None,
) -> PeriodReport:
    """The report of the week `day` falls in, or of the month it starts (by default the
    last complete one)."""
    today = local_date(now)
    period = (
        check_report_week(day, today=today)
        if cadence is Cadence.WEEKLY
        else check_report_month(day, today=today)
    )
    lines, alerts = await dispatch_lines(reader=reader, period=period, now=now)
    by_department = await report_kpis(
        reader=reader,
        first=period.first,
        last=period.last,
        group_by=GroupBy.DEPARTMENT,
        as_of=now,
        weights=weights,
    )
    by_township = await report_kpis(
        reader=reader,
        first=period.first,
        last=period.last,
        group_by=GroupBy.TOWNSHIP,
        as_of=now,
    )
    return PeriodReport(
        cadence=cadence,
        period=period,
        as_of=now,
        lines=lines,
        alerts=alerts,
        departments=by_department.rows,
        townships=by_township.rows,
        overall=by_department.overall,
    )
