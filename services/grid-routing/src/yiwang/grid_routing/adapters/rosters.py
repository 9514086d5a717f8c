"""Rosters of grid workers in PostgreSQL: versioned like grid sets, switched in
atomically, earlier versions kept; and the read side of the active one (workers and
their load, the open grid tasks each holds)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from yiwang.grid_routing.adapters.grid_tasks import worker_from
from yiwang.grid_routing.domain.roster import GridWorker


@dataclass(frozen=True, slots=True)
class RosterSummary:
    version: int
    label: str
    source: str
    grid_set: int
    workers: int
    imported_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    worker: GridWorker
    open_tasks: int


class UnknownRoster(LookupError):
    field = "version"

    def __init__(self, version: int) -> None:
        super().__init__(f"there is no roster version {version}")


class RosterRepository(abc.ABC):
    @abc.abstractmethod
    async def active_grid_micro_grids(self) -> tuple[int, frozenset[str]] | None:
        """The active grid set's version and its micro-grid codes (None: no grid set)."""

    @abc.abstractmethod
    async def add(
        self,
        workers: Sequence[GridWorker],
        *,
        label: str,
        source: str,
        grid_set: int,
        only_if_empty: bool = False,
    ) -> int | None:
        """Store a new version and make it active; with only_if_empty, None if any exists."""

    @abc.abstractmethod
    async def activate(self, version: int) -> None: ...

    @abc.abstractmethod
    async def summaries(self) -> list[RosterSummary]: ...

    @abc.abstractmethod
    async def workers(
        self, *, micro_grid: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[WorkerLoad]:
        """The active roster's workers (serving `micro_grid`, if given), with their load."""


class PostgresRosterRepository(RosterRepository):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def active_grid_micro_grids(self) -> tuple[int, frozenset[str]] | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            version = await conn.fetchval("SELECT version FROM active_grid_set")
            if version is None:
                return None
            rows = await conn.fetch(
                "SELECT code FROM admin_units WHERE grid_set = $1 AND level = 'micro_grid'",
                version,
            )
        return int(version), frozenset(r["code"] for r in rows)

    async def add(
        self,
        workers: Sequence[GridWorker],
        *,
        label: str,
        source: str,
        grid_set: int,
        only_if_empty: bool = False,
    ) -> int | None:
        async with self._pool.acquire() as conn, conn.transaction():
            # One writer at a time, so versions are dense and a bootstrap runs once.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('grid_routing.rosters'))")
            latest = await conn.fetchval("SELECT max(version) FROM rosters")
            if only_if_empty and latest is not None:
                return None
            version = int(latest or 0) + 1
            await conn.execute(
                "INSERT INTO rosters (version, label, source, grid_set, workers)"
                " VALUES ($1, $2, $3, $4, $5)",
                version,
                label,
                source,
                grid_set,
                len(workers),
            )
            await conn.copy_records_to_table(
                "grid_workers",
                records=[
                    (version, w.worker_id, w.name, list(w.micro_grids), sorted(w.roles))
                    for w in workers
                ],
            )
            await _switch(conn, version)
        return version

    async def activate(self, version: int) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT true FROM rosters WHERE version = $1", version):
                raise UnknownRoster(version)
            await _switch(conn, version)

    async def summaries(self) -> list[RosterSummary]:
        rows = await self._pool.fetch(
            "SELECT r.*, (a.version IS NOT NULL) AS active FROM rosters r"
            " LEFT JOIN active_roster a ON a.version = r.version ORDER BY r.version"
        )
        return [
            RosterSummary(
                version=r["version"],
                label=r["label"],
                source=r["source"],
                grid_set=r["grid_set"],
                workers=r["workers"],
                imported_at=r["imported_at"],
                active=r["active"],
            )
            for r in rows
        ]

    async def workers(
        self, *, micro_grid: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[WorkerLoad]:
        rows = await self._pool.fetch(
            "SELECT w.worker_id, w.name, w.micro_grids, w.roles,"
            " (SELECT count(*) FROM grid_tasks t WHERE t.worker_id = w.worker_id"
            "  AND t.status IN ('assigned', 'acknowledged')) AS open_tasks"
            " FROM grid_workers w WHERE w.roster = (SELECT version FROM active_roster)"
            " AND ($1::text IS NULL OR $1 = ANY(w.micro_grids))"
            " ORDER BY w.worker_id LIMIT $2 OFFSET $3",
            micro_grid,
            limit,
            offset,
        )
        return [WorkerLoad(worker=worker_from(r), open_tasks=r["open_tasks"]) for r in rows]


async def _switch(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, version: int
) -> None:
    await conn.execute(
        "INSERT INTO active_roster (singleton, version) VALUES (true, $1)"
        " ON CONFLICT (singleton) DO UPDATE SET version = $1, switched_at = now()",
        version,
    )
