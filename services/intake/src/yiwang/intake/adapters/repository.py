"""Intake's repository: cases, reporters, idempotency keys, numbers and the timeline."""

from __future__ import annotations

import abc
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from yiwang.intake.domain.case import CaseView, OpenCase, TimelineEntry


@dataclass(frozen=True, slots=True)
class NewCase:
    case_id: uuid.UUID
    case_number: str
    channel: str
    category: str
    title: str
    description: str
    priority: str
    state: str
    lon: float | None
    lat: float | None
    crs_submitted: str | None
    lon_submitted: float | None
    lat_submitted: float | None
    address: str | None
    admin_code: str | None
    micro_grid_hint: str | None
    source_system: str | None
    external_id: str | None
    channel_details: dict[str, Any]
    media_urls: tuple[str, ...]
    attributes: dict[str, str]
    master_case_id: uuid.UUID | None
    api_key_id: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SealedReporter:
    reporter_id: uuid.UUID
    case_id: uuid.UUID
    anonymous: bool
    name_masked: str | None
    phone_masked: str | None
    id_number_masked: str | None
    name_sealed: bytes | None
    phone_sealed: bytes | None
    id_number_sealed: bytes | None
    email_sealed: bytes | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CaseFilter:
    states: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    channel: str | None = None
    case_ids: tuple[uuid.UUID, ...] = ()
    received_from: datetime | None = None
    received_to: datetime | None = None
    after: tuple[datetime, uuid.UUID] | None = None  # keyset cursor: (received_at, case_id)
    limit: int = 50
    newest_first: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class CaseRepository(abc.ABC):
    @abc.abstractmethod
    async def lock_keys(self, names: list[str]) -> None:
        """Serialise concurrent work on these keys until the transaction ends (one round trip;
        taken in sorted order so two transactions never wait on each other in a cycle)."""

    @abc.abstractmethod
    async def find_idempotent(self, *, scope: str, key: str) -> tuple[uuid.UUID, str] | None: ...

    @abc.abstractmethod
    async def add_idempotency_key(
        self, *, scope: str, key: str, request_hash: str, case_id: uuid.UUID, at: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def open_cases_near(
        self, *, category: str, bbox: tuple[float, float, float, float], since: datetime
    ) -> list[OpenCase]: ...

    @abc.abstractmethod
    async def add(self, case: NewCase) -> None: ...

    @abc.abstractmethod
    async def add_reporter(self, reporter: SealedReporter) -> None: ...

    @abc.abstractmethod
    async def count_another_reporter(self, *, master_id: uuid.UUID, at: datetime) -> int: ...

    @abc.abstractmethod
    async def get(self, ref: str) -> CaseView | None:
        """By case id or case number, with the timeline."""

    @abc.abstractmethod
    async def find(self, case_filter: CaseFilter) -> list[CaseView]: ...

    @abc.abstractmethod
    async def apply_state(
        self, *, case_id: uuid.UUID, state: str, note: str | None, lead: str | None, at: datetime
    ) -> None:
        """Take a newer state; an older one (reordered delivery) leaves the case as it is."""

    @abc.abstractmethod
    async def add_timeline(
        self, *, event_id: str, case_id: uuid.UUID, entry: TimelineEntry
    ) -> None: ...

    @abc.abstractmethod
    async def add_token(self, *, token: str, case_id: uuid.UUID, at: datetime) -> None: ...

    @abc.abstractmethod
    async def case_for_token(self, token: str) -> str | None: ...


_VIEW = """
SELECT c.*, m.case_number AS master_case_number
FROM cases c LEFT JOIN cases m ON m.case_id = c.master_case_id
"""


class PostgresCaseRepository(CaseRepository):
    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_keys(self, names: list[str]) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM (SELECT unnest($1::text[]) AS n ORDER BY 1) k",
            names,
        )

    async def find_idempotent(self, *, scope: str, key: str) -> tuple[uuid.UUID, str] | None:
        row = await self._conn.fetchrow(
            "SELECT case_id, request_hash FROM idempotency_keys WHERE scope = $1 AND key = $2",
            scope,
            key,
        )
        return (row["case_id"], row["request_hash"]) if row else None

    async def add_idempotency_key(
        self, *, scope: str, key: str, request_hash: str, case_id: uuid.UUID, at: datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, case_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            scope,
            key,
            request_hash,
            case_id,
            at,
        )

    async def open_cases_near(
        self, *, category: str, bbox: tuple[float, float, float, float], since: datetime
    ) -> list[OpenCase]:
        rows = await self._conn.fetch(
            "SELECT case_id, case_number, lon, lat, received_at, reporter_count FROM cases"
            " WHERE category = $1 AND received_at >= $2 AND master_case_id IS NULL"
            " AND state NOT IN ('resolved', 'evaluated', 'closed', 'rejected', 'duplicate')"
            " AND lon BETWEEN $3 AND $5 AND lat BETWEEN $4 AND $6",
            category,
            since,
            *bbox,
        )
        return [OpenCase(**dict(r)) for r in rows]

    async def add(self, case: NewCase) -> None:
        await self._conn.execute(
            "INSERT INTO cases (case_id, case_number, channel, category, title, description, priority,"
            " state, lon, lat, crs_submitted, lon_submitted, lat_submitted, address, admin_code,"
            " micro_grid_hint, source_system, external_id, channel_details, media_urls, attributes,"
            " master_case_id, api_key_id, received_at, updated_at, state_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19::jsonb,$20,"
            " $21::jsonb,$22,$23,$24,$24,$24)",
            case.case_id,
            case.case_number,
            case.channel,
            case.category,
            case.title,
            case.description,
            case.priority,
            case.state,
            case.lon,
            case.lat,
            case.crs_submitted,
            case.lon_submitted,
            case.lat_submitted,
            case.address,
            case.admin_code,
            case.micro_grid_hint,
            case.source_system,
            case.external_id,
            json.dumps(case.channel_details, ensure_ascii=False),
            list(case.media_urls),
            json.dumps(case.attributes, ensure_ascii=False),
            case.master_case_id,
            case.api_key_id,
            case.received_at,
        )

    async def add_reporter(self, reporter: SealedReporter) -> None:
        await self._conn.execute(
            "INSERT INTO reporters (reporter_id, case_id, anonymous, name_masked, phone_masked,"
            " id_number_masked, name_sealed, phone_sealed, id_number_sealed, email_sealed, created_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            reporter.reporter_id,
            reporter.case_id,
            reporter.anonymous,
            reporter.name_masked,
            reporter.phone_masked,
            reporter.id_number_masked,
            reporter.name_sealed,
            reporter.phone_sealed,
            reporter.id_number_sealed,
            reporter.email_sealed,
            reporter.created_at,
        )

    async def count_another_reporter(self, *, master_id: uuid.UUID, at: datetime) -> int:
        return int(
            await self._conn.fetchval(
                "UPDATE cases SET reporter_count = reporter_count + 1, updated_at = $2"
                " WHERE case_id = $1 RETURNING reporter_count",
                master_id,
                at,
            )
        )

    async def get(self, ref: str) -> CaseView | None:
        try:
            row = await self._conn.fetchrow(f"{_VIEW} WHERE c.case_id = $1", uuid.UUID(ref))
        except ValueError:
            row = await self._conn.fetchrow(f"{_VIEW} WHERE c.case_number = $1", ref)
        if row is None:
            return None
        view = _view(row)
        entries = await self._conn.fetch(
            "SELECT at, from_state, to_state, actor, note FROM timeline WHERE case_id = $1 ORDER BY at, event_id",
            view.case_id,
        )
        view.timeline = [TimelineEntry(**dict(e)) for e in entries]
        return view

    async def find(self, case_filter: CaseFilter) -> list[CaseView]:
        where, args = ["TRUE"], []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        f = case_filter
        if f.states:
            where.append(f"c.state = ANY({arg(list(f.states))}::text[])")
        if f.categories:
            where.append(f"c.category = ANY({arg(list(f.categories))}::text[])")
        if f.channel:
            where.append(f"c.channel = {arg(f.channel)}")
        if f.case_ids:
            where.append(f"c.case_id = ANY({arg(list(f.case_ids))}::uuid[])")
        if f.received_from:
            where.append(f"c.received_at >= {arg(f.received_from)}")
        if f.received_to:
            where.append(f"c.received_at <= {arg(f.received_to)}")
        order = "DESC" if f.newest_first else "ASC"
        if f.after:
            op = "<" if f.newest_first else ">"
            where.append(f"(c.received_at, c.case_id) {op} ({arg(f.after[0])}, {arg(f.after[1])})")
        sql = f"{_VIEW} WHERE {' AND '.join(where)} ORDER BY c.received_at {order}, c.case_id {order} LIMIT {arg(f.limit)}"
        return [_view(r) for r in await self._conn.fetch(sql, *args)]

    async def apply_state(
        self, *, case_id: uuid.UUID, state: str, note: str | None, lead: str | None, at: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE cases SET state = $2, status_note = $3,"
            " lead_department = COALESCE($4, lead_department), state_at = $5, updated_at = GREATEST(updated_at, $5)"
            " WHERE case_id = $1 AND state_at <= $5",
            case_id,
            state,
            note,
            lead,
            at,
        )

    async def add_timeline(
        self, *, event_id: str, case_id: uuid.UUID, entry: TimelineEntry
    ) -> None:
        await self._conn.execute(
            "INSERT INTO timeline (event_id, case_id, at, from_state, to_state, actor, note)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (event_id) DO NOTHING",
            event_id,
            case_id,
            entry.at,
            entry.from_state,
            entry.to_state,
            entry.actor,
            entry.note,
        )

    async def add_token(self, *, token: str, case_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO open311_tokens (token, case_id, created_at) VALUES ($1, $2, $3)",
            token,
            case_id,
            at,
        )

    async def case_for_token(self, token: str) -> str | None:
        value = await self._conn.fetchval(
            "SELECT c.case_number FROM open311_tokens t JOIN cases c USING (case_id) WHERE t.token = $1",
            token,
        )
        return str(value) if value is not None else None


def _view(row: asyncpg.Record) -> CaseView:
    return CaseView(
        case_id=row["case_id"],
        case_number=row["case_number"],
        channel=row["channel"],
        category=row["category"],
        title=row["title"],
        description=row["description"],
        priority=row["priority"],
        state=row["state"],
        status_note=row["status_note"],
        lead_department=row["lead_department"],
        lon=row["lon"],
        lat=row["lat"],
        address=row["address"],
        admin_code=row["admin_code"],
        media_urls=list(row["media_urls"]),
        master_case_id=row["master_case_id"],
        master_case_number=row["master_case_number"],
        reporter_count=row["reporter_count"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        source_system=row["source_system"],
        external_id=row["external_id"],
    )
