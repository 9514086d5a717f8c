"""Departments' Kafka signing secrets on PostgreSQL (sealed), for the dispatch repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.departments import Department
from yiwang.department_dispatch.domain.credentials import StoredSecret

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
COLUMNS = "department, key_id, sealed, created_at, valid_until"


def _secret(row: Any) -> StoredSecret:
    return StoredSecret(
        department=Department(row["department"]),
        key_id=row["key_id"],
        sealed=bytes(row["sealed"]),
        created_at=row["created_at"],
        valid_until=row["valid_until"],
    )


class PostgresSigningSecrets:
    """The signing-secret part of PostgresDispatchRepository."""

    _conn: Connection

    async def signing_secrets(
        self, department: Department, *, lock: bool = False
    ) -> list[StoredSecret]:
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM signing_secret WHERE department = $1"
            " ORDER BY created_at DESC, key_id" + (" FOR UPDATE" if lock else ""),
            department.value,
        )
        return [_secret(r) for r in rows]

    async def add_signing_secret(self, secret: StoredSecret) -> bool:
        inserted = await self._conn.fetchval(
            f"INSERT INTO signing_secret ({COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING RETURNING true",
            secret.department.value,
            secret.key_id,
            secret.sealed,
            secret.created_at,
            secret.valid_until,
        )
        return bool(inserted)

    async def end_signing_secret(
        self, department: Department, key_id: str, *, valid_until: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE signing_secret SET valid_until = $3 WHERE department = $1 AND key_id = $2",
            department.value,
            key_id,
            valid_until,
        )

    async def all_signing_secrets(self) -> list[StoredSecret]:
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM signing_secret ORDER BY department, created_at FOR UPDATE"
        )
        return [_secret(r) for r in rows]

    async def reseal_signing_secret(self, secret: StoredSecret, *, sealed: bytes) -> None:
        await self._conn.execute(
            "UPDATE signing_secret SET sealed = $3 WHERE department = $1 AND key_id = $2",
            secret.department.value,
            secret.key_id,
            sealed,
        )
