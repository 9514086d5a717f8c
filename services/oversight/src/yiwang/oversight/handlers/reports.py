"""Oversight's read use cases: a case with its timeline, searches, KPIs, rankings, the
working ledger and the daily dispatch report (日调度). The weekly and monthly reports are
in `period_reports.py`, the public ledger (晒账) in `ledgers.py`, reconciliation (对账) in
`reconciliation.py`.

They read through the reader, outside any unit of work: nothing here writes. Periods are
local dates, checked here (`domain/periods.py`), so every caller gets the same refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from yiwang.common.auth import Actor
from yiwang.common.working_days import local_date
from yiwang.oversight.adapters.queries import CaseSearch, LedgerLine, OversightReader
from yiwang.oversight.domain.access import check_case_in_scope, scope_of
from yiwang.oversight.domain.assessment import EvaluationWeights, evaluation_score
from yiwang.oversight.domain.evaluation import CaseNotFound
from yiwang.oversight.domain.kpi import (
    GroupBy,
    Kpi,
    KpiRow,
    RankBy,
    Ranked,
    compute_kpis,
    overall,
    rank,
)
from yiwang.oversight.domain.periods import (
    Period,
    check_period,
    check_report_day,
    check_search_bounds,
)
from yiwang.oversight.domain.projection import TimelineEntry


@dataclass(frozen=True, slots=True)
class CaseFile:
    case: dict[str, Any]
    timeline: list[TimelineEntry]
    alerts: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    follow_up_calls: list[dict[str, Any]]


async def case_file(
    *, reader: OversightReader, case_id: str, now: datetime, actor: Actor
) -> CaseFile:
    """The case, its timeline in event-time order, its alerts, evaluations and calls, for
    an actor who may read it (Forbidden otherwise: another township's or department's)."""
    case = await reader.case(case_id, now=now)
    if case is None:
        raise CaseNotFound(case_id)
    check_case_in_scope(
        actor, township_code=case["township_code"], lead_department=case["lead_department"]
    )
    timeline = sorted(await reader.timeline(case_id), key=TimelineEntry.sort_key)
    return CaseFile(
        case=case,
        timeline=timeline,
        alerts=await reader.case_records("alerts", case_id),
        evaluations=await reader.case_records("evaluations", case_id),
        follow_up_calls=await reader.case_records("follow_up_calls", case_id),
    )


async def search_cases(
    *,
    reader: OversightReader,
    search: CaseSearch,
    received_from: date | None = None,
    received_to: date | None = None,
    now: datetime,
    actor: Actor,
) -> tuple[int, list[dict[str, Any]]]:
    """The total and one page of the cases matching `search` that the actor may read,
    received between the two local dates (both included; either may be left open)."""
    start, end = check_search_bounds(received_from, received_to)
    scoped = replace(search, received_from=start, received_to=end, scope=scope_of(actor))
    return await reader.search(scoped, now=now)


@dataclass(frozen=True, slots=True)
class KpiReport:
    period: Period
    group_by: GroupBy
    as_of: datetime
    rows: list[KpiRow]
    overall: KpiRow


async def report_kpis(
    *,
    reader: OversightReader,
    first: date,
    last: date,
    group_by: GroupBy,
    as_of: datetime,
    weights: EvaluationWeights | None = None,
) -> KpiReport:
    """Every KPI per group for the cases received from `first` to `last` (local dates);
    per department also its 一考双评 evaluation score, with the county's `weights`."""
    period = check_period(first, last)
    cases, calls = await reader.kpi_inputs(start=period.start, end=period.end)
    rows = compute_kpis(group_by, cases, calls, as_of=as_of)
    if group_by is GroupBy.DEPARTMENT:
        assessments = await reader.assessments(first=period.first, last=period.last)
        rows = [
            replace(
                row,
                evaluation=evaluation_score(
                    assessments=[a for a in assessments if a.department == row.group],
                    satisfaction=row.rates[Kpi.SATISFACTION_RATE].value,
                    weights=weights or EvaluationWeights(),
                ),
            )
            for row in rows
        ]
    return KpiReport(
        period=period,
        group_by=group_by,
        as_of=as_of,
        rows=rows,
        overall=overall(cases, calls, as_of),
    )


async def rank_groups(
    *,
    reader: OversightReader,
    first: date,
    last: date,
    group_by: GroupBy,
    by: RankBy,
    as_of: datetime,
    weights: EvaluationWeights | None = None,
) -> list[Ranked]:
    report = await report_kpis(
        reader=reader, first=first, last=last, group_by=group_by, as_of=as_of, weights=weights
    )
    return rank(report.rows, by=by)


async def ledger(
    *, reader: OversightReader, now: datetime, department: str | None = None
) -> list[LedgerLine]:
    """Each department's open, overdue, resolved and closed cases, by township."""
    lines = await reader.ledger(now=now)
    return [line for line in lines if department is None or line.department == department]


@dataclass(frozen=True, slots=True)
class DailyReportLine:
    department: str
    received: int
    routed: int
    acknowledged: int
    resolved: int
    returned: int
    closed: int
    open: int
    overdue: int


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    as_of: datetime
    lines: list[DailyReportLine]
    alerts: list[dict[str, Any]]


async def dispatch_lines(
    *, reader: OversightReader, period: Period, now: datetime
) -> tuple[list[DailyReportLine], list[dict[str, Any]]]:
    """Per department the period's flows and the open and overdue cases now, and the
    alerts raised in the period: the body of the daily, weekly and monthly reports."""
    activity = await reader.activity(start=period.start, end=period.end)
    flows: dict[tuple[str, str], int] = {}
    for t in activity["transitions"]:
        flows[(t["department"], t["to_state"])] = (
            flows.get((t["department"], t["to_state"]), 0) + t["n"]
        )
    stock: dict[str, list[int]] = {}
    for line in await reader.ledger(now=now):
        totals = stock.setdefault(line.department, [0, 0])
        totals[0] += line.open
        totals[1] += line.overdue
    departments = sorted(set(activity["received"]) | {d for d, _ in flows} | set(stock))
    lines = [
        DailyReportLine(
            department=d,
            received=activity["received"].get(d, 0),
            routed=flows.get((d, "routed"), 0),
            acknowledged=flows.get((d, "acknowledged"), 0),
            resolved=flows.get((d, "resolved"), 0),
            returned=flows.get((d, "returned"), 0),
            closed=flows.get((d, "closed"), 0),
            open=stock.get(d, [0, 0])[0],
            overdue=stock.get(d, [0, 0])[1],
        )
        for d in departments
    ]
    return lines, activity["alerts"]


async def daily_report(
    *, reader: OversightReader, day: date | None = None, now: datetime
) -> DailyReport:
    """The day's dispatch figures per department (日调度): flows during the local day
    (by default yesterday), stocks (open, overdue) as of the report's generation."""
    day = check_report_day(day, today=local_date(now))
    lines, alerts = await dispatch_lines(reader=reader, period=Period(day, day), now=now)
    return DailyReport(day=day, as_of=now, lines=lines, alerts=alerts)
