"""对账: the case ids intake received in a period, for oversight's reconciliation."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class ReceivedCase:
    case_id: str
    state: str
    duplicate: bool  # linked to a master case


class ReceivedCases(abc.ABC):
    @abc.abstractmethod
    async def between(self, *, start: datetime, end: datetime, limit: int) -> list[ReceivedCase]:
        """The cases received in [start, end), oldest first, at most `limit`."""


class PostgresReceivedCases(ReceivedCases):
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool  # asked for at each call: it opens after wiring

    async def between(self, *, start: datetime, end: datetime, limit: int) -> list[ReceivedCase]:
        rows = await self._pool().fetch(
            "SELECT case_id::text AS case_id, state, master_case_id IS NOT NULL AS duplicate"
            " FROM cases WHERE received_at >= $1 AND received_at < $2"
            " ORDER BY received_at, case_id LIMIT $3",
            start,
            end,
            limit,
        )
        return [ReceivedCase(**dict(r)) for r in rows]
