"""晒账: the public ledger for a period, of the cases received in it (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.kpi import GroupBy
from yiwang.oversight.domain.periods import Period, check_period
from yiwang.oversight.domain.public_ledger import (
    PublicLedgerRow,
    check_public_grouping,
    public_ledger,
)


@dataclass(frozen=True, slots=True)
class PublicLedger:
    period: Period
    group_by: GroupBy
    as_of: datetime
    rows: list[PublicLedgerRow]
    overall: PublicLedgerRow


async def publish_ledger(
    *, reader: OversightReader, first: date, last: date, group_by: GroupBy, as_of: datetime
) -> PublicLedger:
    check_public_grouping(group_by)
    period = check_period(first, last)
    cases, _ = await reader.kpi_inputs(start=period.start, end=period.end)
    rows, county = public_ledger(group_by, cases, as_of=as_of)
    return PublicLedger(period=period, group_by=group_by, as_of=as_of, rows=rows, overall=county)
