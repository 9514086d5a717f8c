"""Oversight's durable SLA timers on the real PostgreSQL: two replicas sweeping at once,
one restart, a ManualClock; every timer fires exactly once and the ladder climbs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from yiwang.common.case import Channel, Priority
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.postgres import open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.runtime import service_migrations
from yiwang.common.states import CaseState
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork
from yiwang.oversight.app import DEFINITION
from yiwang.oversight.entrypoints.background import timer_sweep
from yiwang.oversight.handlers.projection import record_state_change

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
async def migrated(database_url: str, schema: str) -> AsyncIterator[str]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=service_migrations(DEFINITION))
    finally:
        await conn.close()
    return schema


async def replicas(database_url: str, schema: str, clock: ManualClock, names: list[str]):  # type: ignore[no-untyped-def]
    pool = await open_pool(dsn=database_url, schema=schema, application_name="oversight-test")

    def uow() -> PostgresOversightUnitOfWork:
        return PostgresOversightUnitOfWork(pool, source="/yiwang/oversight", clock=clock)

    ticks = [timer_sweep(uow=uow, clock=clock, replica=n, batch=5) for n in names]
    return pool, uow, ticks


async def sweep(ticks: list[Callable[[], Awaitable[int]]], rounds: int = 3) -> int:
    raised = 0
    for _ in range(rounds):
        raised += sum(await asyncio.gather(*(tick() for tick in ticks)))
    return raised


def state_change(
    case_id: str, minutes: int, src: CaseState | None, dst: CaseState
) -> Envelope[CaseStateChanged]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor="test",
            at=T0 + timedelta(minutes=minutes),
            category="gas-leak",
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
        await record_state_change(
            uow=uow(), envelope=state_change("leak", 0, None, CaseState.RECEIVED), now=T0
        )
        await record_state_change(
            uow=uow(),
            envelope=state_change("leak", 10, CaseState.RECEIVED, CaseState.ACKNOWLEDGED),
            now=T0,
        )
        # and 20 more cases, so the two replicas contend for the same due rows
        for n in range(20):
            await record_state_change(
                uow=uow(), envelope=state_change(f"bulk-{n}", 0, None, CaseState.RECEIVED), now=T0
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


async def test_a_stopped_clock_raises_nothing(database_url: str, migrated: str) -> None:
    clock = ManualClock(T0)
    pool, uow, ticks = await replicas(database_url, migrated, clock, ["only"])
    try:
        await record_state_change(
            uow=uow(), envelope=state_change("done", 0, None, CaseState.RECEIVED), now=T0
        )
        await record_state_change(
            uow=uow(),
            envelope=state_change("done", 30, CaseState.RECEIVED, CaseState.RESOLVED),
            now=T0,
        )
        clock.set(T0 + timedelta(days=30))
        assert await sweep(ticks) == 0
        assert await pool.fetchval("SELECT count(*) FROM timers WHERE case_id = 'done'") == 0
    finally:
        await pool.close()
