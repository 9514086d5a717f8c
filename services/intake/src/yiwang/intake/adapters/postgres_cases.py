"""Intake's repository on PostgreSQL. Admission's writes take arrays (unnest): one
statement for a whole batch of submissions, however many it holds."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.postgres import Write
from yiwang.intake.adapters.repository import CaseFilter, CaseRepository, TimelineRow
from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.batch import RecordedKey
from yiwang.intake.domain.case import CaseView, OpenCase, TimelineEntry
from yiwang.intake.domain.lifecycle import ClosedDuplicate, StateUpdate, closed_with_master_note
from yiwang.intake.domain.records import NewCase, SealedReporter

_VIEW = """
SELECT c.*, m.case_number AS master_case_number
FROM cases c LEFT JOIN cases m ON m.case_id = c.master_case_id
"""
# Matches the partial index cases_open_near (migration 0002) word for word.
_CAN_TAKE_DUPLICATES = (
    "master_case_id IS NULL"
    " AND state NOT IN ('resolved', 'evaluated', 'closed', 'rejected', 'duplicate')"
)


# The idempotency keys already used (n = 0), then each area's open cases that can take
# duplicates (n = the area's position): both read after the admission's locks, in one
# round trip. OFFSET 0 keeps the LATERAL subquery a subquery: flattened, the planner
# hashes a whole day's open cases against the points instead of one index probe a point.
_RECORDED_AND_NEARBY = (
    "SELECT 0::bigint AS n, k.scope, k.key, k.request_hash, c.case_id, c.case_number,"
    " m.case_number AS master_case_number, NULL::float8 AS lon, NULL::float8 AS lat,"
    " NULL::timestamptz AS received_at, NULL::int AS reporter_count"
    " FROM unnest($1::text[], $2::text[]) AS q(scope, key)"
    " JOIN idempotency_keys k ON k.scope = q.scope AND k.key = q.key"
    " JOIN cases c ON c.case_id = k.case_id"
    " LEFT JOIN cases m ON m.case_id = c.master_case_id"
    " UNION ALL"
    " SELECT q.n, NULL, NULL, NULL, c.case_id, c.case_number, NULL, c.lon, c.lat,"
    " c.received_at, c.reporter_count"
    " FROM unnest($3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[])"
    " WITH ORDINALITY AS q(category, min_lon, min_lat, max_lon, max_lat, n)"
    " CROSS JOIN LATERAL (SELECT * FROM cases WHERE category = q.category"
    f" AND {_CAN_TAKE_DUPLICATES}"
    " AND lat BETWEEN q.min_lat AND q.max_lat AND lon BETWEEN q.min_lon AND q.max_lon"
    " AND received_at >= $8 OFFSET 0) c"
)

_CASE_COLUMNS = (
    "case_id, case_number, channel, category, title, description, priority, state, lon, lat,"
    " crs_submitted, lon_submitted, lat_submitted, address, admin_code, micro_grid_hint,"
    " source_system, external_id, channel_details, media_urls, attributes, master_case_id,"
    " api_key_id, reporter_count, received_at, submitted_by"
)
_CASE_TYPES = (
    "uuid", "text", "text", "text", "text", "text", "text", "text", "float8", "float8", "text",
    "float8", "float8", "text", "text", "text", "text", "text", "jsonb", "jsonb", "jsonb",
    "uuid", "text", "int", "timestamptz", "text",
)  # fmt: skip
_REPORTER_COLUMNS = (
    "reporter_id, case_id, anonymous, name_masked, phone_masked, id_number_masked, name_sealed,"
    " phone_sealed, id_number_sealed, email_sealed, created_at, title_sealed, description_sealed"
)
_REPORTER_TYPES = (
    "uuid", "uuid", "bool", "text", "text", "text", "bytea", "bytea", "bytea", "bytea",
    "timestamptz", "bytea", "bytea",
)  # fmt: skip


def _unnest(types: Sequence[str], first: int) -> str:
    return "unnest(" + ", ".join(f"${first + n}::{t}[]" for n, t in enumerate(types)) + ")"


_R = 1 + len(_CASE_TYPES)  # the reporters' first parameter
_K = _R + len(_REPORTER_TYPES)  # the keys'
_T = _K + 4  # the tokens'
_AT = _T + 2
# The rows of opened cases, every table in one round trip (empty arrays insert nothing).
_ADD_OPENED = (
    f"WITH c AS (INSERT INTO cases ({_CASE_COLUMNS}, updated_at, state_at)"
    " SELECT case_id, case_number, channel, category, title, description, priority, state,"
    " lon, lat, crs_submitted, lon_submitted, lat_submitted, address, admin_code,"
    " micro_grid_hint, source_system, external_id, channel_details,"
    " ARRAY(SELECT jsonb_array_elements_text(media_urls)), attributes, master_case_id,"
    " api_key_id, reporter_count, received_at, submitted_by, received_at, received_at"
    f" FROM {_unnest(_CASE_TYPES, 1)} AS c({_CASE_COLUMNS})),"
    f" r AS (INSERT INTO reporters ({_REPORTER_COLUMNS})"
    f" SELECT * FROM {_unnest(_REPORTER_TYPES, _R)}),"
    " k AS (INSERT INTO idempotency_keys (scope, key, request_hash, case_id, created_at)"
    f" SELECT scope, key, request_hash, case_id, ${_AT}"
    f" FROM {_unnest(('text', 'text', 'text', 'uuid'), _K)} AS k(scope, key, request_hash, case_id)),"
    " t AS (INSERT INTO open311_tokens (token, case_id, created_at)"
    f" SELECT token, case_id, ${_AT} FROM {_unnest(('text', 'uuid'), _T)} AS t(token, case_id))"
    " SELECT 1"
)


def _case_row(c: NewCase) -> tuple[Any, ...]:
    return (
        c.case_id, c.case_number, c.channel, c.category, c.title, c.description, c.priority,
        c.state, c.lon, c.lat, c.crs_submitted, c.lon_submitted, c.lat_submitted, c.address,
        c.admin_code, c.micro_grid_hint, c.source_system, c.external_id,
        json.dumps(c.channel_details, ensure_ascii=False), json.dumps(list(c.media_urls)),
        json.dumps(c.attributes, ensure_ascii=False), c.master_case_id, c.api_key_id,
        c.reporter_count, c.received_at, c.submitted_by,
    )  # fmt: skip


def _reporter_row(r: SealedReporter) -> tuple[Any, ...]:
    return (
        r.reporter_id, r.case_id, r.anonymous, r.name_masked, r.phone_masked,
        r.id_number_masked, r.name_sealed, r.phone_sealed, r.id_number_sealed,
        r.email_sealed, r.created_at, r.title_sealed, r.description_sealed,
    )  # fmt: skip


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows to one list per column, as unnest($1::type[], $2::type[], ...) takes them."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


class PostgresCaseRepository(CaseRepository):
    def __init__(
        self,
        conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection,
        *,
        write: Write | None = None,
    ) -> None:
        self._conn = conn
        self._write = write or conn.execute  # the unit of work's: it may defer writes

    async def lock_keys(self, names: Sequence[str]) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(n, 0))"
            " FROM (SELECT unnest($1::text[]) AS n ORDER BY 1) k",
            list(names),
        )

    async def find_idempotent(
        self, keys: Sequence[IdempotencyKey]
    ) -> dict[IdempotencyKey, RecordedKey]:
        return (await self.recorded_and_nearby(keys=keys, areas=(), since=None))[0]

    async def open_cases_near(
        self, areas: Sequence[tuple[str, tuple[float, float, float, float]]], *, since: datetime
    ) -> list[list[OpenCase]]:
        return (await self.recorded_and_nearby(keys=(), areas=areas, since=since))[1]

    async def recorded_and_nearby(
        self,
        *,
        keys: Sequence[IdempotencyKey],
        areas: Sequence[tuple[str, tuple[float, float, float, float]]],
        since: datetime | None,
    ) -> tuple[dict[IdempotencyKey, RecordedKey], list[list[OpenCase]]]:
        rows = await self._conn.fetch(
            _RECORDED_AND_NEARBY,
            *_columns([(k.scope, k.key) for k in keys], 2),
            *_columns([(category, *bbox) for category, bbox in areas], 5),
            since,
        )
        recorded: dict[IdempotencyKey, RecordedKey] = {}
        nearby: list[list[OpenCase]] = [[] for _ in areas]
        for r in rows:
            if r["n"] == 0:  # a key already used
                recorded[IdempotencyKey(r["scope"], r["key"])] = RecordedKey(
                    r["case_id"], r["case_number"], r["request_hash"], r["master_case_number"]
                )
            else:
                nearby[r["n"] - 1].append(
                    OpenCase(r["case_id"], r["case_number"], r["lon"], r["lat"],
                             r["received_at"], r["reporter_count"])
                )  # fmt: skip
        return recorded, nearby

    async def add_opened(
        self,
        *,
        cases: Sequence[NewCase] = (),
        reporters: Sequence[SealedReporter] = (),
        keys: Sequence[tuple[IdempotencyKey, str, uuid.UUID]] = (),
        tokens: Sequence[tuple[str, uuid.UUID]] = (),
        at: datetime | None = None,
    ) -> None:
        # One statement: the foreign keys to cases are checked at its end.
        await self._conn.execute(
            _ADD_OPENED,
            *_columns([_case_row(c) for c in cases], len(_CASE_TYPES)),
            *_columns([_reporter_row(r) for r in reporters], len(_REPORTER_TYPES)),
            *_columns([(k.scope, k.key, h, c) for k, h, c in keys], 4),
            *_columns(tokens, 2),
            at,
        )

    async def add_cases(self, cases: Sequence[NewCase]) -> None:
        await self.add_opened(cases=cases)

    async def add_reporters(self, reporters: Sequence[SealedReporter]) -> None:
        await self.add_opened(reporters=reporters)

    async def add_idempotency_keys(
        self, keys: Sequence[tuple[IdempotencyKey, str, uuid.UUID]], *, at: datetime
    ) -> None:
        await self.add_opened(keys=keys, at=at)

    async def count_other_reporters(self, *, master_id: uuid.UUID, added: int, at: datetime) -> int:
        return int(
            await self._conn.fetchval(
                "UPDATE cases SET reporter_count = reporter_count + $2, updated_at = $3"
                " WHERE case_id = $1 RETURNING reporter_count",
                master_id,
                added,
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
        if f.submitters is not None:
            where.append(f"c.submitted_by = ANY({arg(list(f.submitters))}::text[])")
        if f.case_numbers:
            where.append(f"c.case_number = ANY({arg(list(f.case_numbers))}::text[])")
        order = "DESC" if f.newest_first else "ASC"
        if f.after:
            op = "<" if f.newest_first else ">"
            where.append(f"(c.received_at, c.case_id) {op} ({arg(f.after[0])}, {arg(f.after[1])})")
        sql = (
            f"{_VIEW} WHERE {' AND '.join(where)}"
            f" ORDER BY c.received_at {order}, c.case_id {order}"
            f" LIMIT {arg(f.limit)} OFFSET {arg(f.offset)}"
        )
        return [_view(r) for r in await self._conn.fetch(sql, *args)]

    async def apply_states(self, updates: Sequence[StateUpdate]) -> None:
        await self._conn.execute(
            "UPDATE cases c SET state = u.state, status_note = u.note,"
            " lead_department = CASE WHEN u.lead_at >= c.state_at THEN u.lead"
            " ELSE c.lead_department END,"
            " state_at = u.at, updated_at = GREATEST(c.updated_at, u.at)"
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],"
            " $6::timestamptz[]) AS u(case_id, state, note, at, lead, lead_at)"
            " WHERE c.case_id = u.case_id AND c.state_at <= u.at",
            *_columns([(u.case_id, u.state, u.note, u.at, u.lead, u.lead_at) for u in updates], 6),
        )

    async def masters_located(
        self, case_ids: Sequence[uuid.UUID]
    ) -> list[tuple[str, tuple[float, float]]]:
        rows = await self._conn.fetch(
            "SELECT category, lon, lat FROM cases WHERE case_id = ANY($1::uuid[])"
            " AND master_case_id IS NULL AND lon IS NOT NULL AND lat IS NOT NULL",
            list(case_ids),
        )
        return [(r["category"], (r["lon"], r["lat"])) for r in rows]

    async def close_duplicates(
        self, closed: Sequence[tuple[uuid.UUID, datetime]]
    ) -> list[ClosedDuplicate]:
        # Row locks in case id order (ORDER BY in the locking subquery): concurrent polls
        # closing overlapping sets cannot deadlock. The state test is re-checked on the
        # locked row, so a duplicate is closed once however many transactions try.
        note = closed_with_master_note("")
        rows = await self._conn.fetch(
            "WITH m(master_id, at) AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[])),"
            " d AS (SELECT c.case_id FROM cases c JOIN m ON c.master_case_id = m.master_id"
            " WHERE c.state = 'duplicate' ORDER BY c.case_id FOR UPDATE OF c)"
            " UPDATE cases c SET state = 'closed', status_note = $3 || master.case_number,"
            " state_at = GREATEST(c.state_at, m.at), updated_at = GREATEST(c.updated_at, m.at)"
            " FROM d, m, cases master"
            " WHERE c.case_id = d.case_id AND c.master_case_id = m.master_id"
            " AND master.case_id = m.master_id AND c.state = 'duplicate'"
            " RETURNING c.case_id, c.case_number, master.case_number AS master_case_number,"
            " c.category, c.channel, c.priority, c.state_at",
            *_columns(closed, 2),
            note,
        )
        return [
            ClosedDuplicate(
                r["case_id"], r["case_number"], r["master_case_number"], r["category"],
                r["channel"], r["priority"], r["state_at"],
            )
            for r in sorted(rows, key=lambda r: r["case_id"])
        ]  # fmt: skip

    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        await self._write(
            "INSERT INTO timeline (event_id, case_id, at, from_state, to_state, actor, note)"
            " SELECT * FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[],"
            " $5::text[], $6::text[], $7::text[])"
            " ON CONFLICT (event_id) DO NOTHING",
            *_columns(
                [(event_id, case_id, e.at, e.from_state, e.to_state, e.actor, e.note)
                 for event_id, case_id, e in rows],
                7,
            ),
        )  # fmt: skip

    async def add_tokens(self, tokens: Sequence[tuple[str, uuid.UUID]], *, at: datetime) -> None:
        await self.add_opened(tokens=tokens, at=at)

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
        submitted_by=row["submitted_by"],
    )
