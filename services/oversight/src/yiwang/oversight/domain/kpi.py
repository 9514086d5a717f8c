"""KPIs: the three rates (三率) and more, per department or township (pure).

The cohort of a report is the cases received in its period [start, end), duplicates and
rejected submissions excluded. `as_of` is the moment the report is computed: a case whose
deadline has not come yet counts neither for nor against a rate, nor does a case still in
the grid (a grid worker's task runs on grid-routing's clock, not a department's).

- response rate (响应率): of the cohort cases whose response is due (signed for, or the
  response deadline passed by as_of), the share signed for by the response deadline.
- resolution rate (解决率): of the cohort cases whose resolution is due (resolved, or the
  resolution deadline passed by as_of), the share resolved (on time or late).
- satisfaction rate (满意率): of the cohort cases with a resident evaluation, the share
  whose latest score is 4 or 5 ("satisfied" or "very satisfied").
- on-time rate: of the cohort cases whose resolution is due, the share resolved by the
  resolution deadline.
- return rate: of the cohort cases, the share returned (退单) at least once. Per
  department: of the cohort cases the department was ever lead for, the share that
  department returned.
- whistle attendance rate: of the departments summoned by whistles blown in the period
  whose reporting time has come (or who reported), the share that reported on time.
- re-handling rate (不满意重办率): of the cohort cases evaluated at least once, the share
  reopened for an unsatisfied evaluation.
- rehandled-to-hub rate: of the cohort cases reopened, the share sent on to the county hub
  (unsatisfied a second time).
- arbitration rate (终审率): of the cohort cases, the share the county hub ruled on. Per
  department: of the cohort cases the department was ever lead for.
- evaluated close rate: of the cohort cases closed, the share closed after an evaluation
  rather than without one (未评价).
- settled-in-grid share (小事不出网格): of the cohort cases that were a grid worker's task
  and left the grid, the share settled there (in_grid -> resolved) rather than passed up
  (in_grid -> routed, 上报). Per township and per micro-grid; a department's row has none
  (what the grid settles never reaches a department).

Beside the rates, a department's row carries its 一考双评 evaluation score
(`domain/assessment.py`): the townships' assessment combined with residents'
satisfaction; rankings may rank by it (`Score.EVALUATION_SCORE`).

A department's other rates count the cases it is (finally) lead for; a township's, the
cases in its area. A rate with an empty denominator is None, never 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from yiwang.oversight.domain.assessment import EvaluationScore

T = TypeVar("T")

SATISFIED_SCORE = 4


class GroupBy(StrEnum):
    DEPARTMENT = "department"
    TOWNSHIP = "township"
    GRID = "grid"  # the micro-grid (网格)


class Kpi(StrEnum):
    RESPONSE_RATE = "response_rate"
    RESOLUTION_RATE = "resolution_rate"
    SATISFACTION_RATE = "satisfaction_rate"
    ON_TIME_RATE = "on_time_rate"
    RETURN_RATE = "return_rate"
    WHISTLE_ATTENDANCE_RATE = "whistle_attendance_rate"
    REHANDLING_RATE = "rehandling_rate"
    REHANDLED_TO_HUB_RATE = "rehandled_to_hub_rate"
    ARBITRATION_RATE = "arbitration_rate"
    EVALUATED_CLOSE_RATE = "evaluated_close_rate"
    SETTLED_IN_GRID_SHARE = "settled_in_grid_share"


class Score(StrEnum):
    """A ranking measure that is not a ratio."""

    EVALUATION_SCORE = "evaluation_score"  # 一考双评, 0-100


RankBy = Kpi | Score
RANK_BY_NAMES = (*(k.value for k in Kpi), *(s.value for s in Score))


def parse_rank_by(text: str) -> RankBy:
    """A KPI's or a score's name; ValueError naming the choices for anything else."""
    if text in Score.__members__.values():
        return Score(text)
    if text in Kpi.__members__.values():
        return Kpi(text)
    raise ValueError(f"'{text}' is not one of {', '.join(RANK_BY_NAMES)}")


# How a grid worker's task ended (projection.GridOutcome's values).
IN_GRID = "in_grid"
SETTLED_IN_GRID = "settled"
PASSED_UP = "passed_up"


# Lower is better for returns, re-handlings and arbitrations.
LOWER_IS_BETTER = frozenset(
    {Kpi.RETURN_RATE, Kpi.REHANDLING_RATE, Kpi.REHANDLED_TO_HUB_RATE, Kpi.ARBITRATION_RATE}
)


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """One cohort case as the KPIs see it."""

    case_id: str
    lead_department: str | None
    township_code: str | None
    lead_history: tuple[str, ...]
    returned_by: tuple[str, ...]
    return_count: int
    responded_at: datetime | None
    resolved_at: datetime | None
    response_due: datetime | None
    resolution_due: datetime | None
    score: int | None
    rehandling: int = 0  # times reopened for an unsatisfied evaluation
    rehandled_to_hub: bool = False
    ruled: bool = False  # the county hub made its final ruling (终审)
    closed: bool = False
    closed_after_evaluation: bool = False
    micro_grid: str | None = None
    grid_outcome: str | None = None  # in_grid, settled or passed_up; None: never in the grid
    category: str | None = None
    channel: str | None = None
    is_open: bool = False


@dataclass(frozen=True, slots=True)
class WhistleCall:
    """One department summoned by one whistle (乡街吹哨、部门报到)."""

    whistle_id: str
    department: str
    township_code: str | None
    report_by: datetime | None
    reported_at: datetime | None
    on_time: bool | None


@dataclass(frozen=True, slots=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


def _ratio(items: Iterable[T], due: Callable[[T], bool], met: Callable[[T], bool]) -> Ratio:
    counted = [item for item in items if due(item)]
    return Ratio(sum(1 for item in counted if met(item)), len(counted))


def _passed(deadline: datetime | None, as_of: datetime) -> bool:
    return deadline is not None and deadline <= as_of


def _with_worker(case: CaseFigures) -> bool:
    """Still a grid worker's task: no department's clock runs, nothing is due yet."""
    return case.grid_outcome == IN_GRID


def response_rate(cases: Sequence[CaseFigures], as_of: datetime) -> Ratio:
    return _ratio(
        cases,
        lambda c: (
            c.responded_at is not None or (_passed(c.response_due, as_of) and not _with_worker(c))
        ),
        lambda c: (
            c.responded_at is not None
            and (c.response_due is None or c.responded_at <= c.response_due)
        ),
    )


def _resolution_due(case: CaseFigures, as_of: datetime) -> bool:
    return case.resolved_at is not None or (
        _passed(case.resolution_due, as_of) and not _with_worker(case)
    )


def resolution_rate(cases: Sequence[CaseFigures], as_of: datetime) -> Ratio:
    return _ratio(cases, lambda c: _resolution_due(c, as_of), lambda c: c.resolved_at is not None)


def on_time_rate(cases: Sequence[CaseFigures], as_of: datetime) -> Ratio:
    return _ratio(
        cases,
        lambda c: _resolution_due(c, as_of),
        lambda c: (
            c.resolved_at is not None
            and (c.resolution_due is None or c.resolved_at <= c.resolution_due)
        ),
    )


def satisfaction_rate(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(cases, lambda c: c.score is not None, lambda c: (c.score or 0) >= SATISFIED_SCORE)


def whistle_attendance_rate(calls: Sequence[WhistleCall], as_of: datetime) -> Ratio:
    return _ratio(
        calls,
        lambda w: w.reported_at is not None or _passed(w.report_by, as_of),
        lambda w: bool(w.on_time),
    )


def rehandling_rate(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(cases, lambda c: c.score is not None, lambda c: c.rehandling > 0)


def rehandled_to_hub_rate(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(cases, lambda c: c.rehandling > 0, lambda c: c.rehandled_to_hub)


def arbitration_rate(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(cases, lambda _: True, lambda c: c.ruled)


def evaluated_close_rate(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(cases, lambda c: c.closed, lambda c: c.closed_after_evaluation)


def settled_in_grid_share(cases: Sequence[CaseFigures]) -> Ratio:
    return _ratio(
        cases,
        lambda c: c.grid_outcome in (SETTLED_IN_GRID, PASSED_UP),
        lambda c: c.grid_outcome == SETTLED_IN_GRID,
    )


@dataclass(frozen=True, slots=True)
class KpiRow:
    group: str  # a department code, a township code, a micro-grid code, or "all"
    cases: int
    rates: dict[Kpi, Ratio]
    evaluation: EvaluationScore | None = None  # 一考双评, for departments


def _row(
    group: str,
    owned: Sequence[CaseFigures],
    assigned: Sequence[CaseFigures],
    returns: Ratio,
    calls: Sequence[WhistleCall],
    as_of: datetime,
    *,
    grid_share: bool = True,
) -> KpiRow:
    """`owned`: the cases the group is measured on; `assigned`: the cases it was ever
    responsible for (a department's lead history), for arbitrations. `grid_share`: False
    for a department, whose row has no settled-in-grid share."""
    return KpiRow(
        group=group,
        cases=len(owned),
        rates={
            Kpi.RESPONSE_RATE: response_rate(owned, as_of),
            Kpi.RESOLUTION_RATE: resolution_rate(owned, as_of),
            Kpi.SATISFACTION_RATE: satisfaction_rate(owned),
            Kpi.ON_TIME_RATE: on_time_rate(owned, as_of),
            Kpi.RETURN_RATE: returns,
            Kpi.WHISTLE_ATTENDANCE_RATE: whistle_attendance_rate(calls, as_of),
            Kpi.REHANDLING_RATE: rehandling_rate(owned),
            Kpi.REHANDLED_TO_HUB_RATE: rehandled_to_hub_rate(owned),
            Kpi.ARBITRATION_RATE: arbitration_rate(assigned),
            Kpi.EVALUATED_CLOSE_RATE: evaluated_close_rate(owned),
            Kpi.SETTLED_IN_GRID_SHARE: settled_in_grid_share(owned) if grid_share else Ratio(0, 0),
        },
    )


def overall(cases: Sequence[CaseFigures], calls: Sequence[WhistleCall], as_of: datetime) -> KpiRow:
    returns = _ratio(cases, lambda _: True, lambda c: c.return_count > 0)
    return _row("all", cases, cases, returns, calls, as_of)


def compute_kpis(
    group_by: GroupBy,
    cases: Sequence[CaseFigures],
    calls: Sequence[WhistleCall],
    *,
    as_of: datetime,
) -> list[KpiRow]:
    """One row per department or township seen in the cohort or its whistles."""
    rows: list[KpiRow] = []
    if group_by is GroupBy.DEPARTMENT:
        groups = {c.lead_department for c in cases} | {d for c in cases for d in c.lead_history}
        groups |= {w.department for w in calls}
        for dept in sorted(g for g in groups if g):
            owned = [c for c in cases if c.lead_department == dept]
            assigned = [c for c in cases if dept in c.lead_history]
            returned = sum(1 for c in assigned if dept in c.returned_by)
            returns = Ratio(returned, len(assigned))
            mine = [w for w in calls if w.department == dept]
            rows.append(_row(dept, owned, assigned, returns, mine, as_of, grid_share=False))
        return rows
    if group_by is GroupBy.GRID:
        for grid in sorted({c.micro_grid for c in cases if c.micro_grid}):
            owned = [c for c in cases if c.micro_grid == grid]
            returns = _ratio(owned, lambda _: True, lambda c: c.return_count > 0)
            rows.append(_row(grid, owned, owned, returns, [], as_of))
        return rows
    townships = {c.township_code for c in cases} | {w.township_code for w in calls}
    for township in sorted(t for t in townships if t):
        owned = [c for c in cases if c.township_code == township]
        returns = _ratio(owned, lambda _: True, lambda c: c.return_count > 0)
        mine = [w for w in calls if w.township_code == township]
        rows.append(_row(township, owned, owned, returns, mine, as_of))
    return rows


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    row: KpiRow


def measure(row: KpiRow, by: RankBy) -> float | None:
    """The row's value on a KPI, or its evaluation score."""
    if isinstance(by, Kpi):
        return row.rates[by].value
    return row.evaluation.score if row.evaluation is not None else None


def rank(rows: Sequence[KpiRow], *, by: RankBy) -> list[Ranked]:
    """Best first (lowest first for the return rate); groups without a value come last.

    Equal values share a rank (1, 2, 2, 4), as ranking tables are published.
    """

    def sort_key(row: KpiRow) -> tuple[int, float, str]:
        value = measure(row, by)
        if value is None:
            return (1, 0.0, row.group)
        return (0, value if by in LOWER_IS_BETTER else -value, row.group)

    ordered = sorted(rows, key=sort_key)
    ranked: list[Ranked] = []
    for position, row in enumerate(ordered, start=1):
        value = measure(row, by)
        if ranked and value is not None and measure(ranked[-1].row, by) == value:
            ranked.append(Ranked(ranked[-1].rank, row))
        else:
            ranked.append(Ranked(position, row))
    return ranked
