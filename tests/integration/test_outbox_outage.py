"""The outbox relay while Kafka cannot take its events, against real PostgreSQL and Kafka:
the backlog and age gauges keep moving (so YiwangOutboxBacklog can fire), and no database
transaction stays open while the relay waits for the broker.

The shared broker is not stopped: the events go to a topic that does not exist (the
broker creates none by itself), so every send waits for metadata until the producer's
request timeout, as it does when the broker is away."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from support import case_received, migrate
from yiwang.common.clock import SystemClock
from yiwang.common.jobs import Job, JobSupervisor
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.postgres.outbox import OutboxRelay
from yiwang.common.producer import EventProducer
from yiwang.common.telemetry import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

pytestmark = pytest.mark.integration


async def test_gauges_move_and_no_transaction_waits_while_kafka_cannot_take_events(
    kafka: str, database_url: str, schema: str
) -> None:
    await migrate(database_url, schema)
    service = f"gauges-{uuid.uuid4().hex[:8]}"
    nowhere = f"test.{uuid.uuid4().hex[:10]}.absent.v1"
    pool = await open_pool(dsn=database_url, schema=schema, application_name=service)
    admin = await asyncpg.connect(database_url)
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()

    async def emit(n: int) -> None:
        for i in range(n):
            async with PostgresUnitOfWork(pool, source="/t", clock=SystemClock()) as uow:
                await uow.emit(case_received(f"case-{uuid.uuid4().hex[:6]}-{i}"), topic=nowhere)

    def backlog() -> float:
        return float(OUTBOX_BACKLOG.labels(service)._value.get())

    def age() -> float:
        return float(OUTBOX_OLDEST_AGE.labels(service)._value.get())

    async def sample() -> tuple[int, int]:
        """(transactions of the relay open for more than a second, advisory locks it holds)"""
        row = await admin.fetchrow(
            "SELECT"
            " (SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
            "   AND xact_start < now() - interval '1 second') AS long_transactions,"
            " (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            "   WHERE l.locktype = 'advisory' AND a.application_name = $1) AS locks",
            service,
        )
        assert row is not None
        return int(row["long_transactions"]), int(row["locks"])

    relay = OutboxRelay(
        pool=pool, producer=producer, service=service, schema=schema, poll_seconds=0.2
    )
    supervisor = JobSupervisor(
        service=service, jobs=[Job("outbox-relay", relay.run), relay.gauges(seconds=0.3)]
    )
    samples: list[tuple[int, int]] = []
    try:
        await emit(3)
        supervisor.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while backlog() != 3:
            assert loop.time() < deadline, f"backlog gauge at {backlog()}, not 3"
            await asyncio.sleep(0.1)
        first_age = age()
        for _ in range(12):  # 3 s of the relay waiting for Kafka
            samples.append(await sample())
            await asyncio.sleep(0.25)
        await emit(2)
        while backlog() != 5 or age() < first_age + 2:
            assert loop.time() < deadline, f"backlog {backlog()}, age {age()} (was {first_age})"
            samples.append(await sample())
            await asyncio.sleep(0.1)
    finally:
        await supervisor.stop()
        await producer.stop()
        await pool.close()
        await admin.close()
    assert any(locks for _, locks in samples), "the relay was caught waiting for Kafka"
    assert all(long == 0 for long, _ in samples), "no transaction open while it waits"
    assert supervisor.stopped() == {}


async def test_the_relay_listens_again_after_its_listen_connection_died(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    """With polling far apart (60 s), only NOTIFY wakes the relay: an event committed after
    the server dropped its LISTEN connection is still published within seconds."""
    await migrate(database_url, schema)
    service = f"listen-{uuid.uuid4().hex[:8]}"
    pool = await open_pool(dsn=database_url, schema=schema, application_name=service)
    admin = await asyncpg.connect(database_url)
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    relay = OutboxRelay(
        pool=pool, producer=producer, service=service, schema=schema, poll_seconds=60
    )
    supervisor = JobSupervisor(service=service, jobs=[Job("outbox-relay", relay.run)])

    async def emit_and_wait_published() -> None:
        async with PostgresUnitOfWork(pool, source="/t", clock=SystemClock()) as uow:
            await uow.emit(case_received(f"case-{uuid.uuid4().hex[:6]}"), topic=topic)
        deadline = asyncio.get_running_loop().time() + 10
        while await admin.fetchval(f'SELECT count(*) FROM "{schema}".outbox'):
            assert asyncio.get_running_loop().time() < deadline, "not woken: not published"
            await asyncio.sleep(0.1)

    try:
        supervisor.start()
        await asyncio.sleep(1)  # listening, first round done
        await emit_and_wait_published()
        # The LISTEN connection is the one holding the relay's advisory lock.
        terminated = await admin.fetch(
            "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a JOIN pg_locks l"
            " ON l.pid = a.pid AND l.locktype = 'advisory' WHERE a.application_name = $1",
            service,
        )
        assert len(terminated) == 1
        await asyncio.sleep(1)  # the relay notices when its wait ends; NOTIFY cannot reach it
        await emit_and_wait_published()
    finally:
        await supervisor.stop()
        await producer.stop()
        await pool.close()
        await admin.close()
