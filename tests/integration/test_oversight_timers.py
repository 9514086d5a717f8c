"""Oversight's durable timers on the real PostgreSQL: two replicas sweeping at once, one
restart, a ManualClock; every timer fires exactly once and the ladder climbs; a resolved
case nobody evaluates closes once, a stranded case is flagged once per stay; a resolved
case's evaluation token is kept as a hash, expires with the close timer and works once."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from yiwang.common.case import Channel, Priority
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, CaseStateChanged
from yiwang.common.postgres import open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.runtime import service_migrations
from yiwang.common.states import CaseState
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork
from yiwang.oversight.app import DEFINITION
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.invitation import EvaluationTokenRefused
from yiwang.oversight.entrypoints.background import timer_sweep
from yiwang.oversight.handlers.evaluations import evaluate_case
from yiwang.oversight.handlers.projection import record_event

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
# The ladder tests leave hand-offs alone: nothing is stranded within a week.
POLICY = OversightPolicy(stranded_after=timedelta(days=7))


@pytest.fixture
async def migrated(database_url: str, schema: str) -> AsyncIterator[str]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=service_migrations(DEFINITION))
    finally:
        await conn.close()
    return schema


async def replicas(  # type: ignore[no-untyped-def]
    database_url: str,
    schema: str,
    clock: ManualClock,
    names: list[str],
    policy: OversightPolicy = POLICY,
):
    pool = await open_pool(dsn=database_url, schema=schema, application_name="oversight-test")

    def uow() -> PostgresOversightUnitOfWork:
        return PostgresOversightUnitOfWork(pool, source="/yiwang/oversight", clock=clock)

    ticks = [timer_sweep(uow=uow, clock=clock, replica=n, batch=5, policy=policy) for n in names]
    return pool, uow, ticks


async def sweep(ticks: list[Callable[[], Awaitable[int]]], rounds: int = 3) -> int:
    raised = 0
    for _ in range(rounds):
        raised += sum(await asyncio.gather(*(tick() for tick in ticks)))
    return raised


def state_change(
    case_id: str, minutes: int, src: CaseState | None, dst: CaseState, category: str = "gas-leak"
) -> Envelope[CaseStateChanged]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor="test",
            at=T0 + timedelta(minutes=minutes),
            category=category,
            priority=Priority.NORMAL,
            channel=Channel.GRID_WORKER,
            department="emergency-management",  # type: ignore[arg-type]
        ),
        source="/yiwang/test",
    )


async def alerts_in_outbox(pool: asyncpg.Pool) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = 'oversight.alerts.v1' ORDER BY id"
    )
    return [json.loads(r["value"]) for r in rows]


async def test_timers_fire_exactly_once_across_replicas_and_a_restart(
    database_url: str, migrated: str
) -> None:
    clock = ManualClock(T0)
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["replica-a", "replica-b"])
    try:
        # A gas leak (an emergency: resolve within 2 h), signed for after 10 minutes, so
        # only its resolution ladder runs: warning 1h36, yellow 2h, red 3h, red (city) 4h.
        await record_event(
            uow=uow(),
            envelope=state_change("leak", 0, None, CaseState.RECEIVED),
            now=T0,
            policy=POLICY,
        )
        await record_event(
            uow=uow(),
            envelope=state_change("leak", 10, CaseState.RECEIVED, CaseState.ACKNOWLEDGED),
            now=T0,
            policy=POLICY,
        )
        # and 20 more cases, so the two replicas contend for the same due rows
        for n in range(20):
            await record_event(
                uow=uow(),
                envelope=state_change(f"bulk-{n}", 0, None, CaseState.RECEIVED),
                now=T0,
                policy=POLICY,
            )
        clock.set(T0 + timedelta(minutes=100))
        # each bulk case (response due at 1 h, resolution at 2 h): response warning (48 min),
        # yellow (1 h), red (1h30) and the resolution warning (1h36); batches of 5 per tick
        assert await sweep(ticks, rounds=12) == 1 + 20 * 4
        kinds = [
            (a["kind"], a["command_level"])
            for a in await alerts_in_outbox(pool)
            if a["case_id"] == "leak"
        ]
        assert kinds == [("warning", "community")]
    finally:
        await pool.close()

    # Restart: new pool, new tick functions; nothing fired before fires again.
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["replica-a2", "replica-b2"])
    try:
        assert await sweep(ticks) == 0
        clock.set(T0 + timedelta(hours=2, minutes=5))
        assert await sweep(ticks, rounds=6) == 1 + 20 * 2  # yellow; city red, resolution yellow
        clock.set(T0 + timedelta(hours=5))
        assert await sweep(ticks, rounds=6) == 2 + 20 * 2  # the resolution reds
        leak = [a for a in await alerts_in_outbox(pool) if a["case_id"] == "leak"]
        assert [(a["kind"], a["command_level"]) for a in leak] == [
            ("warning", "community"),
            ("yellow_card", "township"),
            ("red_card", "county"),
            ("red_card", "city"),
        ]
        assert all(a["department"] == "emergency-management" for a in leak)
        fired = await pool.fetch(
            "SELECT clock, stage, count(*) AS n FROM timers WHERE fired_at IS NOT NULL"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        # 21 cases: the resolution ladder of each (4) and the response ladder of the 20 (4)
        assert {(r["clock"], r["stage"]): r["n"] for r in fired} == {
            ("resolution", "warning"): 21,
            ("resolution", "yellow_card"): 21,
            ("resolution", "red_card"): 21,
            ("resolution", "red_card_city"): 21,
            ("response", "warning"): 20,
            ("response", "yellow_card"): 20,
            ("response", "red_card"): 20,
            ("response", "red_card_city"): 20,
        }
        all_alerts = await alerts_in_outbox(pool)
        assert len(all_alerts) == 21 * 4 + 20 * 4
        assert len({a["alert_id"] for a in all_alerts}) == len(all_alerts)  # no alert twice
        by = await pool.fetch("SELECT DISTINCT fired_by FROM timers WHERE fired_at IS NOT NULL")
        assert len(by) >= 2  # the work was shared
    finally:
        await pool.close()


async def lifecycle_in_outbox(pool: asyncpg.Pool, case_id: str) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = 'case.lifecycle.v1' ORDER BY id"
    )
    return [v for v in (json.loads(r["value"]) for r in rows) if v["case_id"] == case_id]


async def test_a_resolved_case_raises_nothing_and_closes_once_unevaluated(
    database_url: str, migrated: str
) -> None:
    clock = ManualClock(T0)
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["one", "two"])
    try:
        await record_event(
            uow=uow(),
            envelope=state_change("done", 0, None, CaseState.RECEIVED, "sanitation"),
            now=T0,
            policy=POLICY,
        )
        await record_event(
            uow=uow(),
            envelope=state_change("done", 30, CaseState.RECEIVED, CaseState.RESOLVED, "sanitation"),
            now=T0,
            policy=POLICY,
        )
        # Only the close timer is left: three working days after Monday 2 March.
        timers = await pool.fetch("SELECT clock, stage, due_at FROM timers WHERE case_id = 'done'")
        assert [(t["clock"], t["stage"], t["due_at"]) for t in timers] == [
            ("evaluation", "close", datetime(2026, 3, 5, 16, 0, tzinfo=UTC))
        ]
        clock.set(datetime(2026, 3, 5, 15, 59, tzinfo=UTC))
        assert await sweep(ticks) == 0
        clock.set(T0 + timedelta(days=30))
        assert await sweep(ticks) == 1  # two replicas, one close
        assert await alerts_in_outbox(pool) == []
        [closed] = [e for e in await lifecycle_in_outbox(pool, "done") if e["to_state"] == "closed"]
        assert (closed["from_state"], closed["actor"]) == ("resolved", "oversight")
        assert closed["note"] == "closed without evaluation (未评价)"
        case = await pool.fetchrow("SELECT * FROM cases WHERE case_id = 'done'")
        assert (case["state"], case["score"], case["closed_after_evaluation"]) == (
            "closed",
            None,
            False,
        )
        assert (
            await pool.fetchval(
                "SELECT outcome FROM timers WHERE case_id = 'done' AND stage = 'close'"
            )
            == "closed"
        )
        assert await sweep(ticks) == 0
    finally:
        await pool.close()


async def test_a_stranded_case_is_flagged_once_per_stay(database_url: str, migrated: str) -> None:
    clock = ManualClock(T0)
    watchful = OversightPolicy(stranded_after=timedelta(minutes=60))
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["one", "two"], watchful)
    try:
        await record_event(
            uow=uow(),
            envelope=state_change("stuck", 0, None, CaseState.RECEIVED, "sanitation"),
            now=T0,
            policy=watchful,
        )
        clock.set(T0 + timedelta(minutes=61))
        assert await sweep(ticks) == 1
        clock.set(T0 + timedelta(minutes=300))
        await sweep(ticks)
        stranded = [a for a in await alerts_in_outbox(pool) if a["kind"] == "stranded"]
        assert [(a["case_id"], a["command_level"]) for a in stranded] == [("stuck", "county")]
        assert "'received' since" in str(stranded[0]["reason"])
    finally:
        await pool.close()


async def test_a_resolved_case_gets_one_token_that_works_once(
    database_url: str, migrated: str
) -> None:
    clock = ManualClock(T0)
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["one"])
    try:
        story = [
            state_change("ev", 0, None, CaseState.RECEIVED, "sanitation"),
            state_change("ev", 30, CaseState.RECEIVED, CaseState.RESOLVED, "sanitation"),
        ]
        for envelope in [*story, story[1]]:  # the resolution delivered twice
            await record_event(uow=uow(), envelope=envelope, now=T0, policy=POLICY)
        rows = await pool.fetch(
            "SELECT value FROM outbox WHERE topic = 'oversight.invitations.v1' ORDER BY id"
        )
        [invited] = [json.loads(r["value"]) for r in rows]
        close = await pool.fetchval("SELECT due_at FROM timers WHERE case_id = 'ev'")
        assert invited["case_id"] == "ev"
        assert datetime.fromisoformat(invited["expires_at"]) == close
        # Only its hash is kept.
        kept = await pool.fetchrow("SELECT * FROM evaluation_tokens WHERE case_id = 'ev'")
        assert kept["token_hash"] == hashlib.sha256(invited["token"].encode()).hexdigest()
        assert invited["token"] not in json.dumps({k: str(v) for k, v in dict(kept).items()})
        evaluation = CaseEvaluated(
            case_id="ev", evaluation_id="ev-1", score=4, token=invited["token"]
        )
        later = T0 + timedelta(hours=2)
        case = await evaluate_case(uow=uow(), evaluation=evaluation, now=later, policy=POLICY)
        assert case.state is CaseState.CLOSED
        used = await pool.fetchrow("SELECT used_at, evaluation_id FROM evaluation_tokens")
        assert (used["used_at"], used["evaluation_id"]) == (later, "ev-1")
        assert await pool.fetchval("SELECT recorded_by FROM evaluations") == "resident"
        again = evaluation.model_copy(update={"evaluation_id": "ev-2"})
        with pytest.raises(EvaluationTokenRefused, match="used already"):
            await evaluate_case(uow=uow(), evaluation=again, now=later, policy=POLICY)
        clock.set(T0 + timedelta(days=30))
        assert await sweep(ticks) == 0  # closed by its evaluation: no close timer left
    finally:
        await pool.close()
