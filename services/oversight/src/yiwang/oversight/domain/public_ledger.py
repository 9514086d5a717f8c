"""晒账, the public ledger: per township or department, what happened to the cases received
in a period, fit for publishing (pure).

It carries counts and rates only, keyed by township or department code: no case, no
name, no text. It leaves out every case whose content is not for the public, by the
category's `public` flag (petitions, disputes between people, public-order reports) and
by channel (anything that came in as a petition, 信访), and any case whose category is
unknown. Micro-grids (30-50 households) are too small to publish: the ledger is by
township or department only.

| column | meaning |
|---|---|
| cases | publishable cases received in the period |
| open, overdue | of them, still open now; open past their resolution deadline |
| resolved, closed | of them, resolved (or later); closed |
| response/resolution/satisfaction/on-time rate | as the KPIs (`domain/kpi.py`) |
| settled_in_grid_share | townships only: settled in the grid ÷ left the grid |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.case import Channel
from yiwang.common.categories import CATEGORIES
from yiwang.oversight.domain.kpi import (
    CaseFigures,
    GroupBy,
    Kpi,
    KpiRow,
    compute_kpis,
    overall,
)

PUBLISHED_KPIS = (
    Kpi.RESPONSE_RATE,
    Kpi.RESOLUTION_RATE,
    Kpi.SATISFACTION_RATE,
    Kpi.ON_TIME_RATE,
    Kpi.SETTLED_IN_GRID_SHARE,
)


class NotPublishable(ValueError):
    """A ledger that may not be published as asked; names the parameter."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason)


def check_public_grouping(group_by: GroupBy) -> GroupBy:
    if group_by not in (GroupBy.TOWNSHIP, GroupBy.DEPARTMENT):
        raise NotPublishable(
            "group_by", "the public ledger is by township or department (a micro-grid is too small)"
        )
    return group_by


def publishable(case: CaseFigures) -> bool:
    """Whether a case may be counted in public: a known category marked public, and not
    a petition by its channel."""
    category = CATEGORIES.get(case.category or "")
    return category is not None and category.public and case.channel != Channel.PETITION.value


@dataclass(frozen=True, slots=True)
class PublicLedgerRow:
    group: str  # a township or department code, or "all"
    cases: int
    open: int
    overdue: int
    resolved: int
    closed: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    on_time_rate: float | None
    settled_in_grid_share: float | None


def _overdue(case: CaseFigures, as_of: datetime) -> bool:
    return (
        case.is_open
        and case.resolved_at is None
        and case.grid_outcome != "in_grid"
        and case.resolution_due is not None
        and case.resolution_due <= as_of
    )


def _published(row: KpiRow, cases: Sequence[CaseFigures], as_of: datetime) -> PublicLedgerRow:
    def rate(kpi: Kpi) -> float | None:
        value = row.rates[kpi].value
        return None if value is None else round(value, 4)

    return PublicLedgerRow(
        group=row.group,
        cases=len(cases),
        open=sum(1 for c in cases if c.is_open),
        overdue=sum(1 for c in cases if _overdue(c, as_of)),
        resolved=sum(1 for c in cases if c.resolved_at is not None or c.closed),
        closed=sum(1 for c in cases if c.closed),
        response_rate=rate(Kpi.RESPONSE_RATE),
        resolution_rate=rate(Kpi.RESOLUTION_RATE),
        satisfaction_rate=rate(Kpi.SATISFACTION_RATE),
        on_time_rate=rate(Kpi.ON_TIME_RATE),
        settled_in_grid_share=rate(Kpi.SETTLED_IN_GRID_SHARE),
    )


def public_ledger(
    group_by: GroupBy, cases: Sequence[CaseFigures], *, as_of: datetime
) -> tuple[list[PublicLedgerRow], PublicLedgerRow]:
    """The rows per township or department, and the county's row ("all"), of the
    publishable cases among `cases`."""
    check_public_grouping(group_by)
    shown = [c for c in cases if publishable(c)]

    def members(group: str) -> list[CaseFigures]:
        if group_by is GroupBy.TOWNSHIP:
            return [c for c in shown if c.township_code == group]
        return [c for c in shown if c.lead_department == group]

    rows = [
        _published(row, members(row.group), as_of)
        for row in compute_kpis(group_by, shown, [], as_of=as_of)
    ]
    return rows, _published(overall(shown, [], as_of), shown, as_of)
