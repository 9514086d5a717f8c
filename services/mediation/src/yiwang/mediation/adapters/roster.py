"""The roster repository on PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
from yiwang.mediation.adapters.repository import RosterRepository
from yiwang.mediation.domain.ladder import Committee, DisputeType, MediationLevel
from yiwang.mediation.domain.roster import Mediator

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
COLUMNS = (
    "mediator_id, name, level, area_code, trade, specialties, load, capacity, active, changed_by"
)


def _mediator(row: Any) -> Mediator:
    return Mediator(
        mediator_id=row["mediator_id"],
        name=row["name"],
        level=MediationLevel(row["level"]),
        area_code=row["area_code"],
        trade=DisputeType(row["trade"]) if row["trade"] else None,
        specialties=frozenset(DisputeType(s) for s in row["specialties"]),
        load=row["load"],
        capacity=row["capacity"],
        active=row["active"],
        changed_by=row["changed_by"],
    )


def _values(m: Mediator) -> tuple[Any, ...]:
    return (
        m.mediator_id,
        m.name,
        m.level.value,
        m.area_code,
        m.trade.value if m.trade else None,
        sorted(s.value for s in m.specialties),
        m.load,
        m.capacity,
        m.active,
        m.changed_by,
    )


class PostgresRosterRepository(RosterRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, mediator_id: str, *, lock: bool = False) -> Mediator | None:
        row = await self._conn.fetchrow(
            f"SELECT {COLUMNS} FROM mediator WHERE mediator_id = $1"
            + (" FOR UPDATE" if lock else ""),
            mediator_id,
        )
        return _mediator(row) if row else None

    async def add(self, mediator: Mediator) -> bool:
        inserted = await self._conn.fetchval(
            f"INSERT INTO mediator ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT DO NOTHING RETURNING true",
            *_values(mediator),
        )
        return bool(inserted)

    async def save(self, mediator: Mediator) -> None:
        await self._conn.execute(
            "UPDATE mediator SET name = $2, level = $3, area_code = $4, trade = $5,"
            " specialties = $6, load = $7, capacity = $8, active = $9, changed_by = $10,"
            " updated_at = now()"
            " WHERE mediator_id = $1",
            *_values(mediator),
        )

    async def serving(self, committee: Committee) -> list[Mediator]:
        # Admin codes nest, so "area covers committee" is a prefix test; ORDER BY keeps
        # lock order stable between concurrent assignments.
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM mediator WHERE level = $1 AND active"
            " AND starts_with($2, area_code) AND trade IS NOT DISTINCT FROM $3"
            " ORDER BY mediator_id FOR UPDATE",
            committee.level.value,
            committee.area_code,
            committee.trade.value if committee.trade else None,
        )
        return [_mediator(r) for r in rows]

    async def adjust_load(self, mediator_id: str, delta: int) -> None:
        await self._conn.execute(
            "UPDATE mediator SET load = GREATEST(load + $2, 0), updated_at = now()"
            " WHERE mediator_id = $1",
            mediator_id,
            delta,
        )

    async def listing(self, *, level: str | None, limit: int) -> list[Mediator]:
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM mediator WHERE ($1::text IS NULL OR level = $1)"
            " ORDER BY level, area_code, mediator_id LIMIT $2",
            level,
            limit,
        )
        return [_mediator(r) for r in rows]

    async def count(self) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM mediator"))
