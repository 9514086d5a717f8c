"""对账: the cases department-dispatch holds for a period, for oversight's reconciliation."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class DispatchedCase:
    case_id: str
    state: str
    lead_department: str
    work_orders: int


class DispatchedCases(abc.ABC):
    @abc.abstractmethod
    async def between(self, *, start: datetime, end: datetime, limit: int) -> list[DispatchedCase]:
        """The cases received in [start, end) (by the routed case's `received_at`, else
        their first work order's issue) that dispatch holds, at most `limit`."""


class PostgresDispatchedCases(DispatchedCases):
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool  # asked for at each call: it opens after wiring

    async def between(self, *, start: datetime, end: datetime, limit: int) -> list[DispatchedCase]:
        rows = await self._pool().fetch(
            "SELECT d.case_id, d.state, d.lead_department, count(w.work_order_id) AS work_orders"
            " FROM dispatch_case d LEFT JOIN work_order w ON w.case_id = d.case_id"
            " GROUP BY d.case_id"
            " HAVING coalesce((d.routed->'case'->>'received_at')::timestamptz, min(w.issued_at))"
            " >= $1"
            " AND coalesce((d.routed->'case'->>'received_at')::timestamptz, min(w.issued_at))"
            " < $2"
            " ORDER BY d.case_id LIMIT $3",
            start,
            end,
            limit,
        )
        return [DispatchedCase(**dict(r)) for r in rows]
