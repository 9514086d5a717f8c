"""对账: the cases department-dispatch holds for a period, for the county's reconciliation
(oversight compares them with what intake received and its own projection)."""

from __future__ import annotations

from datetime import datetime

from yiwang.department_dispatch.adapters.reconciliation import DispatchedCase, DispatchedCases


async def dispatched_cases(
    *, store: DispatchedCases, start: datetime, end: datetime, limit: int
) -> tuple[list[DispatchedCase], bool]:
    """The cases of [start, end) (at most `limit`), and whether there were more."""
    found = await store.between(start=start, end=end, limit=limit + 1)
    return found[:limit], len(found) > limit
