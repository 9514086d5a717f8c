"""The dispatch unit of work: one transaction holding the dispatch repository, the inbox
and the outbox. Handlers see the abstract one; the runtime makes the Postgres one
(`runtime.units_of_work(PostgresDispatchUnitOfWork)`, in app.py)."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.department_dispatch.adapters.postgres import PostgresDispatchRepository
from yiwang.department_dispatch.adapters.repository import DispatchRepository
from yiwang.department_dispatch.adapters.rows import case_from_row
from yiwang.department_dispatch.domain.model import DispatchCase


class DispatchUnitOfWork(UnitOfWork):
    """A unit of work whose transaction also holds the dispatch repository."""

    @property
    @abc.abstractmethod
    def dispatch(self) -> DispatchRepository: ...

    async def first_decisions(
        self, *, consumer: str, event_ids: Sequence[str], case_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, DispatchCase]]:
        """The inbox's first deliveries among `event_ids`, and the dispatch cases of
        `case_ids`, locked in id order (a database: one round trip)."""
        fresh = await self.first_deliveries(consumer=consumer, event_ids=event_ids)
        return fresh, await self.dispatch.get_cases(sorted(set(case_ids)), lock=True)


class PostgresDispatchUnitOfWork(PostgresUnitOfWork, DispatchUnitOfWork):
    @property
    def dispatch(self) -> DispatchRepository:
        return PostgresDispatchRepository(self.connection)

    async def first_decisions(
        self, *, consumer: str, event_ids: Sequence[str], case_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, DispatchCase]]:
        # FULL JOIN ON false: the rows of both, each with the other's columns NULL.
        rows = await self.connection.fetch(
            "WITH fresh AS (INSERT INTO inbox (consumer, event_id)"
            " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id),"
            " locked AS MATERIALIZED (SELECT * FROM dispatch_case"
            " WHERE case_id = ANY($3::text[]) ORDER BY case_id FOR UPDATE)"
            " SELECT f.event_id AS first_delivery, c.* FROM fresh f FULL JOIN locked c ON false",
            consumer,
            list(dict.fromkeys(event_ids)),
            sorted(set(case_ids)),
        )
        fresh = {r["first_delivery"] for r in rows if r["first_delivery"] is not None}
        cases = [case_from_row(r) for r in rows if r["first_delivery"] is None]
        return fresh, {case.case_id: case for case in cases}
