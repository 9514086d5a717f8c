"""对账: reconcile a period across intake, department-dispatch and oversight's projection.

Oversight asks the two peers for their cases of the period with the caller's own bearer
token (`adapters/peers.py`), reads its own projection, and lists every case on which
they disagree (`domain/reconciliation.py`). Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from yiwang.oversight.adapters.peers import Peers
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.periods import Period, check_period
from yiwang.oversight.domain.reconciliation import Reconciliation, reconcile


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    period: Period
    as_of: datetime
    reconciliation: Reconciliation
    complete: bool  # False when a peer's list was cut short (too many cases)


async def reconcile_period(
    *,
    reader: OversightReader,
    peers: Peers,
    first: date,
    last: date,
    authorization: str,
    now: datetime,
) -> ReconciliationReport:
    period = check_period(first, last)
    start, end = period.start, period.end
    intake, intake_cut = await peers.intake_cases(start=start, end=end, authorization=authorization)
    dispatch, dispatch_cut = await peers.dispatch_cases(
        start=start, end=end, authorization=authorization
    )
    oversight = await reader.projected_cases(start=start, end=end)
    return ReconciliationReport(
        period=period,
        as_of=now,
        reconciliation=reconcile(intake=intake, dispatch=dispatch, oversight=oversight),
        complete=not (intake_cut or dispatch_cut),
    )
