"""Grid sets in PostgreSQL: versioned, switched in atomically, earlier versions kept."""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import shapely
from yiwang.common.departments import Department
from yiwang.grid_routing.domain.errors import UnknownGridSet
from yiwang.grid_routing.domain.network import (
    AdminLevel,
    AdminUnit,
    DepartmentUnit,
    GridNetwork,
    OverlayLink,
)
from yiwang.grid_routing.domain.progress import Progress, SilentProgress

_BATCH = 2000


@dataclass(frozen=True, slots=True)
class GridSetSummary:
    version: int
    label: str
    source: str
    county_code: str
    admin_units: int
    department_units: int
    micro_grids: int
    repairs: int
    imported_at: datetime
    active: bool


class GridSetRepository(abc.ABC):
    @abc.abstractmethod
    async def add(
        self,
        network: GridNetwork,
        *,
        label: str,
        source: str,
        repairs: list[str],
        only_if_empty: bool = False,
        progress: Progress | None = None,
    ) -> int | None:
        """Store a new version and make it active, in one transaction; return its version.

        With only_if_empty, store nothing and return None if any grid set exists.
        """

    @abc.abstractmethod
    async def active(self) -> tuple[int, GridNetwork] | None: ...

    @abc.abstractmethod
    async def active_version(self) -> int | None: ...

    @abc.abstractmethod
    async def activate(self, version: int) -> None: ...

    @abc.abstractmethod
    async def summaries(self) -> list[GridSetSummary]: ...


class PostgresGridSetRepository(GridSetRepository):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(
        self,
        network: GridNetwork,
        *,
        label: str,
        source: str,
        repairs: list[str],
        only_if_empty: bool = False,
        progress: Progress | None = None,
    ) -> int | None:
        progress = progress or SilentProgress()
        county = network.county
        async with self._pool.acquire() as conn, conn.transaction():
            # One writer at a time, so versions are dense and a bootstrap runs once.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('grid_routing.grid_sets'))")
            latest = await conn.fetchval("SELECT max(version) FROM grid_sets")
            if only_if_empty and latest is not None:
                return None
            version = int(latest or 0) + 1
            await conn.execute(
                "INSERT INTO grid_sets (version, label, source, county_code, admin_units,"
                " department_units, micro_grids, repairs) VALUES ($1,$2,$3,$4,$5,$6,$7,$8::jsonb)",
                version,
                label,
                source,
                county.code if county else "",
                len(network.admin_units),
                len(network.department_units),
                len(network.micro_grids),
                json.dumps(repairs, ensure_ascii=False),
            )
            total = len(network.admin_units) + len(network.department_units) + len(network.overlay)
            progress.stage(f"storing grid set v{version}", total)
            admin = [
                (
                    version,
                    u.code,
                    u.level.value,
                    u.name,
                    u.parent_code,
                    u.households,
                    shapely.to_wkb(u.polygon),
                )
                for u in network.admin_units
            ]
            departments = [
                (version, u.department.value, u.code, u.name, shapely.to_wkb(u.polygon))
                for u in network.department_units
            ]
            overlay = [
                (version, link.micro_grid_code, link.department.value, link.unit_code, link.share)
                for link in network.overlay
            ]
            for table, rows in (
                ("admin_units", admin),
                ("department_units", departments),
                ("micro_grid_units", overlay),
            ):
                for start in range(0, len(rows), _BATCH):
                    batch = rows[start : start + _BATCH]
                    await conn.copy_records_to_table(table, records=batch)
                    progress.advance(len(batch))
            await _switch(conn, version)
        return version

    async def active(self) -> tuple[int, GridNetwork] | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            version = await conn.fetchval("SELECT version FROM active_grid_set")
            if version is None:
                return None
            admin_rows = await conn.fetch(
                "SELECT code, level, name, parent_code, households, geometry FROM admin_units"
                " WHERE grid_set = $1",
                version,
            )
            department_rows = await conn.fetch(
                "SELECT department, code, name, geometry FROM department_units WHERE grid_set = $1",
                version,
            )
            overlay_rows = await conn.fetch(
                "SELECT micro_grid_code, department, unit_code, share FROM micro_grid_units"
                " WHERE grid_set = $1",
                version,
            )
        admin_geoms = shapely.from_wkb([r["geometry"] for r in admin_rows])
        department_geoms = shapely.from_wkb([r["geometry"] for r in department_rows])
        network = GridNetwork(
            admin_units=tuple(
                AdminUnit(
                    r["code"],
                    AdminLevel(r["level"]),
                    r["name"],
                    r["parent_code"],
                    g,
                    r["households"],
                )
                for r, g in zip(admin_rows, admin_geoms, strict=True)
            ),
            department_units=tuple(
                DepartmentUnit(Department(r["department"]), r["code"], r["name"], g)
                for r, g in zip(department_rows, department_geoms, strict=True)
            ),
            overlay=tuple(
                OverlayLink(
                    r["micro_grid_code"], Department(r["department"]), r["unit_code"], r["share"]
                )
                for r in overlay_rows
            ),
        )
        return int(version), network

    async def active_version(self) -> int | None:
        version = await self._pool.fetchval("SELECT version FROM active_grid_set")
        return None if version is None else int(version)

    async def activate(self, version: int) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT true FROM grid_sets WHERE version = $1", version):
                raise UnknownGridSet(version)
            await _switch(conn, version)

    async def summaries(self) -> list[GridSetSummary]:
        rows = await self._pool.fetch(
            "SELECT g.*, jsonb_array_length(g.repairs) AS repair_count,"
            " (a.version IS NOT NULL) AS active FROM grid_sets g"
            " LEFT JOIN active_grid_set a ON a.version = g.version ORDER BY g.version"
        )
        return [
            GridSetSummary(
                version=r["version"],
                label=r["label"],
                source=r["source"],
                county_code=r["county_code"],
                admin_units=r["admin_units"],
                department_units=r["department_units"],
                micro_grids=r["micro_grids"],
                repairs=r["repair_count"],
                imported_at=r["imported_at"],
                active=r["active"],
            )
            for r in rows
        ]


async def _switch(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, version: int
) -> None:
    await conn.execute(
        "INSERT INTO active_grid_set (singleton, version) VALUES (true, $1)"
        " ON CONFLICT (singleton) DO UPDATE SET version = $1, switched_at = now()",
        version,
    )
