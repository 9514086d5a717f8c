"""The routing unit of work: the common one (inbox, outbox) plus routing's repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import asyncpg
from yiwang.common.clock import Clock
from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.grid_routing.adapters.grid_tasks import (
    GridTaskRepository,
    PostgresGridTaskRepository,
)
from yiwang.grid_routing.adapters.routed_cases import (
    PostgresRoutedCaseRepository,
    RoutedCaseRepository,
)


class RoutingUnitOfWork(UnitOfWork):
    """What routing handlers see: `cases` and `grid_tasks` share the transaction of inbox
    and outbox."""

    cases: RoutedCaseRepository
    grid_tasks: GridTaskRepository

    async def first_receipts(
        self, *, consumer: str, event_ids: Sequence[str], case_ids: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """The inbox's first deliveries among `event_ids`, and which of `case_ids` were
        routed before, their rows locked in id order (a database: one round trip)."""
        fresh = await self.first_deliveries(consumer=consumer, event_ids=event_ids)
        return fresh, set(await self.cases.get_many(sorted(set(case_ids))))


class PostgresRoutingUnitOfWork(PostgresUnitOfWork, RoutingUnitOfWork):
    def __init__(
        self, pool: asyncpg.Pool, *, source: str, clock: Clock, topic_prefix: str = ""
    ) -> None:
        super().__init__(pool, source=source, clock=clock, topic_prefix=topic_prefix)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.cases = PostgresRoutedCaseRepository(self.connection, write=self.write)
        self.grid_tasks = PostgresGridTaskRepository(self.connection)
        return self

    async def first_receipts(
        self, *, consumer: str, event_ids: Sequence[str], case_ids: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        rows = await self.connection.fetch(
            "WITH fresh AS (INSERT INTO inbox (consumer, event_id)"
            " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id),"
            " routed AS (SELECT case_id FROM routed_cases WHERE case_id = ANY($3::text[])"
            " ORDER BY case_id FOR UPDATE)"  # one lock order, so batches cannot deadlock
            " SELECT false AS routed, event_id AS id FROM fresh"
            " UNION ALL SELECT true, case_id FROM routed",
            consumer,
            list(dict.fromkeys(event_ids)),
            sorted(set(case_ids)),
        )
        return {r["id"] for r in rows if not r["routed"]}, {r["id"] for r in rows if r["routed"]}
