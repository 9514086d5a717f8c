"""The oversight repository on PostgreSQL; a poll's worth of cases in a few statements."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.events import CaseEvaluated, OversightAlertRaised
from yiwang.common.states import CaseState
from yiwang.oversight.adapters.repository import DueTimer, FollowUpCall, OversightRepository
from yiwang.oversight.domain.escalation import SlaClock, Stage, TimerSpec
from yiwang.oversight.domain.invitation import IssuedToken
from yiwang.oversight.domain.projection import CaseProjection, EntryKind, TimelineEntry


def entry_from_row(row: asyncpg.Record) -> TimelineEntry:
    return TimelineEntry(
        entry_id=row["entry_id"],
        case_id=row["case_id"],
        at=row["at"],
        kind=EntryKind(row["kind"]),
        actor=row["actor"],
        from_state=CaseState(row["from_state"]) if row["from_state"] else None,
        to_state=CaseState(row["to_state"]) if row["to_state"] else None,
        note=row["note"],
        attrs=json.loads(row["attrs"]),
    )


def case_row(case: CaseProjection) -> dict[str, Any]:
    """The folded case as a row of `cases` (a cache of fold(timeline) for the read side)."""
    d = case.deadlines
    return {
        "case_id": case.case_id,
        "case_number": case.case_number,
        "state": case.state.value if case.state else None,
        "state_at": case.state_at,
        "category": case.category,
        "channel": case.channel.value if case.channel else None,
        "priority": case.priority.value if case.priority else None,
        "lead_department": case.lead_department.value if case.lead_department else None,
        "assisting_departments": [d_.value for d_ in case.assisting_departments],
        "lead_history": [d_.value for d_ in case.lead_history],
        "returned_by": [d_.value for d_ in case.returned_by],
        "township_code": case.township_code,
        "micro_grid": case.micro_grid,
        "sla_class": case.sla_class,
        "received_at": case.received_at,
        "started_at": case.started_at,
        "clock_started_at": case.clock_started_at,
        "last_activity_at": case.last_activity_at,
        "responded_at": case.responded_at,
        "resolved_at": case.resolved_at,
        "resolved_by": case.resolved_by,
        "closed_at": case.closed_at,
        "closed_after_evaluation": case.closed_after_evaluation,
        "return_count": case.return_count,
        "extended": case.extended,
        "score": case.score,
        "evaluated_at": case.evaluated_at,
        "reopened_at": case.reopened_at,
        "rehandling": case.rehandling,
        "rehandled_to_hub": case.rehandled_to_hub,
        "ruled": case.ruled,
        "duplicate": case.duplicate,
        "grid_outcome": case.grid_outcome.value if case.grid_outcome else None,
        "mediation_held": case.mediation_held,
        "sla_policy": d.policy if d else None,
        "response_due": d.response_due if d else None,
        "resolution_due": d.resolution_due if d else None,
        "is_open": case.is_open,
        "response_running": case.response_running,
        "resolution_running": case.resolution_running,
    }


def _upsert_case() -> str:
    columns = list(case_row(CaseProjection(case_id="")))
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "case_id")
    return (
        f"INSERT INTO cases ({', '.join(columns)}, updated_at) VALUES ({placeholders}, now())"
        f" ON CONFLICT (case_id) DO UPDATE SET {updates}, updated_at = now()"
    )


_SAVE_CASE = _upsert_case()
_WHISTLE_FACTS = ("township_code", "blown_at", "report_by", "reported_at", "on_time")


class PostgresOversightRepository(OversightRepository):
    def __init__(self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        self._conn = conn

    async def lock_case(self, case_id: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('case:' || $1))", case_id)

    async def try_lock_case(self, case_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('case:' || $1))", case_id
            )
        )

    async def add_entry(self, entry: TimelineEntry) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO timeline (entry_id, case_id, at, kind, actor, from_state, to_state,"
            " note, attrs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
            " ON CONFLICT (entry_id) DO NOTHING RETURNING true",
            entry.entry_id,
            entry.case_id,
            entry.at,
            entry.kind.value,
            entry.actor,
            entry.from_state.value if entry.from_state else None,
            entry.to_state.value if entry.to_state else None,
            entry.note,
            json.dumps(dict(entry.attrs)),
        )
        return bool(inserted)

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        rows = await self._conn.fetch("SELECT * FROM timeline WHERE case_id = $1", case_id)
        return [entry_from_row(row) for row in rows]

    async def save_case(self, case: CaseProjection) -> None:
        await self._conn.execute(_SAVE_CASE, *case_row(case).values())

    async def sync_timers(self, case_id: str, wanted: list[TimerSpec]) -> None:
        await self.sync_timers_of({case_id: wanted})

    async def lock_cases(self, case_ids: Sequence[str]) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('case:' || c))"
            " FROM unnest($1::text[]) WITH ORDINALITY AS t(c, n) ORDER BY n",
            list(case_ids),
        )

    async def add_entries(self, entries: Sequence[TimelineEntry]) -> None:
        await self._conn.execute(
            "INSERT INTO timeline (entry_id, case_id, at, kind, actor, from_state, to_state,"
            " note, attrs) SELECT e, c, a, k, ac, f, t, n, j::jsonb FROM unnest($1::text[],"
            " $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],"
            " $8::text[], $9::text[]) AS u(e, c, a, k, ac, f, t, n, j)"
            " ON CONFLICT (entry_id) DO NOTHING",
            [e.entry_id for e in entries],
            [e.case_id for e in entries],
            [e.at for e in entries],
            [e.kind.value for e in entries],
            [e.actor for e in entries],
            [e.from_state.value if e.from_state else None for e in entries],
            [e.to_state.value if e.to_state else None for e in entries],
            [e.note for e in entries],
            [json.dumps(dict(e.attrs)) for e in entries],
        )

    async def timelines(self, case_ids: Sequence[str]) -> dict[str, list[TimelineEntry]]:
        rows = await self._conn.fetch(
            "SELECT * FROM timeline WHERE case_id = ANY($1::text[])", list(case_ids)
        )
        found: dict[str, list[TimelineEntry]] = {case_id: [] for case_id in case_ids}
        for row in rows:
            found[row["case_id"]].append(entry_from_row(row))
        return found

    async def save_cases(self, cases: Sequence[CaseProjection]) -> None:
        if not cases:
            return
        rows = [case_row(case) for case in cases]
        await self._conn.executemany(_SAVE_CASE, [tuple(row.values()) for row in rows])

    async def sync_timers_of(self, wanted: Mapping[str, list[TimerSpec]]) -> None:
        """Unfired timers no longer wanted go; wanted ones come, or take their new due time
        (a ladder's due times move with the clock's start); fired ones stay as they fired.
        Compared here, against the cases' unfired timers read in one statement: a fold
        mostly wants what is there already, and only what differs is written (the database
        planned a set difference of hundreds of rows as a nested loop on fresh tables)."""
        have = {
            (r["case_id"], r["clock"], r["stage"], r["deadline"]): (r["id"], r["due_at"])
            for r in await self._conn.fetch(
                "SELECT id, case_id, clock, stage, deadline, due_at FROM timers"
                " WHERE case_id = ANY($1::text[]) AND fired_at IS NULL",
                list(wanted),
            )
        }
        timers = {
            (t.case_id, t.clock.value, t.stage.value, t.deadline): t
            for specs in wanted.values()
            for t in specs
        }
        gone = [timer_id for key, (timer_id, _) in have.items() if key not in timers]
        if gone:
            await self._conn.execute(
                "DELETE FROM timers WHERE id = ANY($1::bigint[]) AND fired_at IS NULL", gone
            )
        changed = [t for key, t in timers.items() if key not in have or have[key][1] != t.due_at]
        if changed:
            await self._conn.execute(
                "INSERT INTO timers (case_id, clock, stage, deadline, due_at)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],"
                " $5::timestamptz[]) ON CONFLICT (case_id, clock, stage, deadline) DO UPDATE"
                " SET due_at = EXCLUDED.due_at"
                " WHERE timers.fired_at IS NULL AND timers.due_at <> EXCLUDED.due_at",
                [t.case_id for t in changed],
                [t.clock.value for t in changed],
                [t.stage.value for t in changed],
                [t.deadline for t in changed],
                [t.due_at for t in changed],
            )

    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        rows = await self._conn.fetch(
            "SELECT id, case_id, clock, stage, deadline, due_at FROM timers"
            " WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2"
            " FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [
            DueTimer(
                r["id"],
                TimerSpec(
                    r["case_id"],
                    SlaClock(r["clock"]),
                    Stage(r["stage"]),
                    r["deadline"],
                    r["due_at"],
                ),
            )
            for r in rows
        ]

    async def mark_fired(self, timer_id: int, *, now: datetime, by: str, outcome: str) -> None:
        await self._conn.execute(
            "UPDATE timers SET fired_at = $2, fired_by = $3, outcome = $4 WHERE id = $1",
            timer_id,
            now,
            by,
            outcome,
        )

    async def add_alert(
        self, alert: OversightAlertRaised, *, township_code: str | None, raised_at: datetime
    ) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO alerts (alert_id, case_id, kind, command_level, department,"
            " township_code, deadline, reason, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
            " $8, $9) ON CONFLICT (alert_id) DO NOTHING RETURNING true",
            alert.alert_id,
            alert.case_id,
            alert.kind.value,
            alert.command_level.value,
            alert.department.value if alert.department else None,
            township_code,
            alert.deadline,
            alert.reason,
            raised_at,
        )
        return bool(inserted)

    async def add_evaluation(
        self, evaluation: CaseEvaluated, *, source: str, evaluated_at: datetime, recorded_by: str
    ) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO evaluations (evaluation_id, case_id, score, comment, source,"
            " evaluated_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (evaluation_id) DO NOTHING RETURNING true",
            evaluation.evaluation_id,
            evaluation.case_id,
            evaluation.score,
            evaluation.comment,
            source,
            evaluated_at,
            recorded_by,
        )
        return bool(inserted)

    async def add_evaluation_token(self, token: IssuedToken) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO evaluation_tokens (token_hash, case_id, resolved_at, expires_at,"
            " issued_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING RETURNING true",
            token.token_hash,
            token.case_id,
            token.resolved_at,
            token.expires_at,
            token.issued_at,
        )
        return bool(inserted)

    async def evaluation_token(self, case_id: str, token_hash: str) -> IssuedToken | None:
        row = await self._conn.fetchrow(
            "SELECT token_hash, case_id, resolved_at, expires_at, issued_at, used_at"
            " FROM evaluation_tokens WHERE token_hash = $1 AND case_id = $2",
            token_hash,
            case_id,
        )
        return IssuedToken(**dict(row)) if row else None

    async def use_evaluation_token(
        self, token_hash: str, *, evaluation_id: str, used_at: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE evaluation_tokens SET used_at = $2, evaluation_id = $3"
            " WHERE token_hash = $1 AND used_at IS NULL",
            token_hash,
            used_at,
            evaluation_id,
        )

    async def add_follow_up_call(self, call: FollowUpCall) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO follow_up_calls (call_id, case_id, called_at, operator, reached,"
            " satisfied, note) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (call_id) DO NOTHING RETURNING true",
            call.call_id,
            call.case_id,
            call.called_at,
            call.operator,
            call.reached,
            call.satisfied,
            call.note,
        )
        return bool(inserted)

    async def record_whistle_call(
        self, *, whistle_id: str, department: str, case_id: str, **facts: Any
    ) -> None:
        given = {k: v for k, v in facts.items() if k in _WHISTLE_FACTS and v is not None}
        columns = ["whistle_id", "department", "case_id", *given]
        values = [whistle_id, department, case_id, *given.values()]
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in given) or "case_id = EXCLUDED.case_id"
        await self._conn.execute(
            f"INSERT INTO whistle_calls ({', '.join(columns)}) VALUES ({placeholders})"
            f" ON CONFLICT (whistle_id, department) DO UPDATE SET {updates}",
            *values,
        )
