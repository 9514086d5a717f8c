"""对账: what intake received in a period, for the county's reconciliation across services
(oversight compares it with department-dispatch's work orders and its own projection)."""

from __future__ import annotations

from datetime import datetime

from yiwang.intake.adapters.reconciliation import ReceivedCase, ReceivedCases


async def received_cases(
    *, store: ReceivedCases, start: datetime, end: datetime, limit: int
) -> tuple[list[ReceivedCase], bool]:
    """The cases received in [start, end) (at most `limit`), and whether there were more."""
    found = await store.between(start=start, end=end, limit=limit + 1)
    return found[:limit], len(found) > limit
