"""The routing unit of work: the common one (inbox, outbox) plus routing's repository."""

from __future__ import annotations

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
