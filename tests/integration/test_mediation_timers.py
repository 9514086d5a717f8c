"""Mediation's durable rung timers on the real PostgreSQL with a ManualClock: two sweepers
at once, and every expiry escalates exactly once, up to referral."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from test_mediation import routed
from yiwang.common.auth import Actor, Role
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.postgres import open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.runtime import service_migrations
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import PostgresMediationUnitOfWork
from yiwang.mediation.app import DEFINITION
from yiwang.mediation.domain.ladder import LadderPolicy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
POLICY = LadderPolicy(time_limit=timedelta(days=30), county_code="140302")
# The use cases are called in-process here: the actor the HTTP route would hand them.
HUB = Actor(id="u-hub", name="hub_operator", roles=frozenset({Role.HUB_OPERATOR}), person=True)


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=service_migrations(DEFINITION))
    finally:
        await conn.close()
    opened = await open_pool(dsn=database_url, schema=schema, application_name="mediation-test")
    yield opened
    await opened.close()


async def test_each_expiry_escalates_once_with_two_sweepers(pool: asyncpg.Pool) -> None:
    clock = ManualClock(T0)

    def uow() -> PostgresMediationUnitOfWork:
        return PostgresMediationUnitOfWork(pool, source="/yiwang/mediation", clock=clock)

    await handlers.seed_roster(uow=uow(), county_code="140302", townships=2)
    case = await handlers.open_routed_dispute(
        uow=uow(),
        envelope=Envelope(payload=routed("c-timer", "labour-dispute"), source="/t"),
        clock=clock,
        policy=POLICY,
    )
    assert case is not None
    await handlers.accept_dispute(
        uow=uow(), actor=HUB, mediation_id=case.mediation_id, mediator_id=None, clock=clock
    )

    async def sweep() -> int:
        fired = 0
        for _ in range(3):
            results = await asyncio.gather(
                *(handlers.fire_due_timers(uow=uow(), clock=clock, policy=POLICY) for _ in "ab")
            )
            fired += sum(results)
        return fired

    assert await sweep() == 0  # nothing is due yet
    levels = []
    for _ in range(4):
        clock.advance(timedelta(days=30, seconds=1))
        assert await sweep() == 1
        row = await pool.fetchrow(
            "SELECT level, status FROM mediation_case WHERE mediation_id = $1", case.mediation_id
        )
        levels.append((row["level"], row["status"]))
    assert levels == [
        ("community", "pending"),
        ("township", "pending"),
        ("district", "pending"),
        ("district", "referred"),
    ]
    steps = [
        json.loads(v)["step"]
        for v in await pool.fetchval(
            "SELECT array_agg(convert_from(value, 'UTF8') ORDER BY id) FROM outbox"
            " WHERE topic = 'mediation.events.v1'"
        )
    ]
    assert steps.count("expired") == 4
    assert steps.count("escalated") == 3
    assert steps[-1] == "referred"
    lifecycle = await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'case.lifecycle.v1'")
    assert lifecycle == 2  # routed -> in_mediation, in_mediation -> closed
    assert await pool.fetchval("SELECT count(*) FROM mediation_timer WHERE NOT fired") == 0
    assert await pool.fetchval("SELECT sum(load) FROM mediator") == 0
