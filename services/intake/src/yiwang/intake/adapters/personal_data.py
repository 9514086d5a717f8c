"""Reporters' sealed personal data after admission, on PostgreSQL: call-backs and their
audit, erasure (a resident's request, or the retention period), re-sealing under a new
key, and the evaluation tokens oversight invites residents with."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from yiwang.intake.domain.personal_data import AccessRecord, Action, ReporterSeal

# Sealed columns by table, and the key each row's seal is bound to.
SEALED: dict[str, tuple[str, tuple[str, ...]]] = {
    "reporters": (
        "reporter_id",
        (
            "name_sealed",
            "phone_sealed",
            "id_number_sealed",
            "email_sealed",
            "title_sealed",
            "description_sealed",
        ),
    ),
    "evaluation_tokens": ("case_id", ("token_sealed",)),
}
_ERASED = (
    "name_sealed = NULL, phone_sealed = NULL, id_number_sealed = NULL, email_sealed = NULL,"
    " title_sealed = NULL, description_sealed = NULL, name_masked = NULL, phone_masked = NULL,"
    " id_number_masked = NULL"
)


@dataclass(frozen=True, slots=True)
class SealedRow:
    key: uuid.UUID
    values: dict[str, bytes | None]


class PersonalDataRepository(abc.ABC):
    @abc.abstractmethod
    async def reporter_of(self, case_id: uuid.UUID) -> ReporterSeal | None: ...

    @abc.abstractmethod
    async def record_access(self, records: Sequence[AccessRecord]) -> None: ...

    @abc.abstractmethod
    async def accesses(self, case_id: uuid.UUID) -> list[AccessRecord]: ...

    @abc.abstractmethod
    async def erase(self, case_ids: Sequence[uuid.UUID], *, at: datetime) -> list[uuid.UUID]:
        """Erase the reporters of these cases; the cases whose reporters were erased now."""

    @abc.abstractmethod
    async def ended_before(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
        """Up to `limit` cases closed or rejected before `cutoff` whose reporters are not
        erased yet; locked for this transaction (others skip them)."""

    @abc.abstractmethod
    async def store_invitation(
        self, case_id: uuid.UUID, token_sealed: bytes, *, expires_at: datetime, at: datetime
    ) -> bool:
        """The case's evaluation token (the newest replaces an older one); False when
        intake has no such case."""

    @abc.abstractmethod
    async def invitation(self, case_id: uuid.UUID) -> tuple[bytes, datetime] | None: ...

    @abc.abstractmethod
    async def sealed(self, table: str, *, after: uuid.UUID | None, limit: int) -> list[SealedRow]:
        """The next rows of `table` (a key of SEALED) with their sealed values, locked."""

    @abc.abstractmethod
    async def reseal(self, table: str, rows: Sequence[SealedRow]) -> None: ...


class PostgresPersonalDataRepository(PersonalDataRepository):
    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection) -> None:
        self._conn = conn

    async def reporter_of(self, case_id: uuid.UUID) -> ReporterSeal | None:
        row = await self._conn.fetchrow(
            "SELECT reporter_id, anonymous, name_masked, phone_sealed, erased_at FROM reporters"
            " WHERE case_id = $1 ORDER BY created_at LIMIT 1",
            case_id,
        )
        return ReporterSeal(**dict(row)) if row is not None else None

    async def record_access(self, records: Sequence[AccessRecord]) -> None:
        await self._conn.executemany(
            "INSERT INTO personal_data_access (access_id, case_id, actor, action, reason, at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(r.access_id, r.case_id, r.actor, r.action.value, r.reason, r.at) for r in records],
        )

    async def accesses(self, case_id: uuid.UUID) -> list[AccessRecord]:
        rows = await self._conn.fetch(
            "SELECT access_id, case_id, actor, action, reason, at FROM personal_data_access"
            " WHERE case_id = $1 ORDER BY at, access_id",
            case_id,
        )
        return [
            AccessRecord(r["access_id"], r["case_id"], r["actor"], Action(r["action"]),
                         r["reason"], r["at"])
            for r in rows
        ]  # fmt: skip

    async def erase(self, case_ids: Sequence[uuid.UUID], *, at: datetime) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            f"UPDATE reporters SET {_ERASED}, erased_at = $2"
            " WHERE case_id = ANY($1::uuid[]) AND erased_at IS NULL RETURNING case_id",
            list(case_ids),
            at,
        )
        return sorted({r["case_id"] for r in rows})

    async def ended_before(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
        # SKIP LOCKED: two runs at once (two replicas) share the work instead of waiting.
        rows = await self._conn.fetch(
            "SELECT r.case_id FROM reporters r JOIN cases c USING (case_id)"
            " WHERE c.state IN ('closed', 'rejected') AND c.state_at < $1"
            " AND r.erased_at IS NULL LIMIT $2 FOR UPDATE OF r SKIP LOCKED",
            cutoff,
            limit,
        )
        return sorted({r["case_id"] for r in rows})

    async def store_invitation(
        self, case_id: uuid.UUID, token_sealed: bytes, *, expires_at: datetime, at: datetime
    ) -> bool:
        stored = await self._conn.fetchval(
            "INSERT INTO evaluation_tokens (case_id, token_sealed, expires_at, invited_at)"
            " SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM cases WHERE case_id = $1)"
            " ON CONFLICT (case_id) DO UPDATE SET token_sealed = EXCLUDED.token_sealed,"
            " expires_at = EXCLUDED.expires_at, invited_at = EXCLUDED.invited_at"
            " WHERE evaluation_tokens.invited_at <= EXCLUDED.invited_at"
            " RETURNING true",
            case_id,
            token_sealed,
            expires_at,
            at,
        )
        return bool(stored)

    async def invitation(self, case_id: uuid.UUID) -> tuple[bytes, datetime] | None:
        row = await self._conn.fetchrow(
            "SELECT token_sealed, expires_at FROM evaluation_tokens WHERE case_id = $1", case_id
        )
        return (row["token_sealed"], row["expires_at"]) if row is not None else None

    async def sealed(self, table: str, *, after: uuid.UUID | None, limit: int) -> list[SealedRow]:
        key, columns = SEALED[table]
        rows = await self._conn.fetch(
            f"SELECT {key}, {', '.join(columns)} FROM {table}"
            f" WHERE ($1::uuid IS NULL OR {key} > $1) ORDER BY {key} LIMIT $2 FOR UPDATE",
            after,
            limit,
        )
        return [SealedRow(r[key], {c: r[c] for c in columns}) for r in rows]

    async def reseal(self, table: str, rows: Sequence[SealedRow]) -> None:
        key, columns = SEALED[table]
        assignments = ", ".join(f"{c} = ${n}" for n, c in enumerate(columns, start=2))
        await self._conn.executemany(
            f"UPDATE {table} SET {assignments} WHERE {key} = $1",
            [(row.key, *(row.values[c] for c in columns)) for row in rows],
        )
