"""Outages against real Kafka and PostgreSQL: the database dropping every connection of a
consumer under load (what a restart or a failover does to it; here `pg_terminate_backend`,
which the server answers with AdminShutdownError, so the shared server keeps running)
dead-letters nothing, and every record is applied exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from support import case_received, create_test_topics, migrate, read_topic
from yiwang.common.clock import SystemClock
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseReceived
from yiwang.common.kafka_security import faststream_security
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.producer import EventProducer
from yiwang.common.subscriber import subscribe

pytestmark = pytest.mark.integration

TALLIES = "CREATE TABLE tallies (case_id text PRIMARY KEY, n int NOT NULL);"
RECORDS = 400


async def test_terminated_database_connections_dead_letter_nothing_and_apply_each_once(
    kafka: str, database_url: str, schema: str
) -> None:
    topic = f"test.{uuid.uuid4().hex[:10]}.v1"
    await create_test_topics(kafka, [topic], partitions=3)
    await create_test_topics(kafka, [f"{topic}.dlq"])
    await migrate(database_url, schema, TALLIES)
    application = f"outage-{uuid.uuid4().hex[:8]}"
    pool = await open_pool(dsn=database_url, schema=schema, application_name=application)
    admin = await asyncpg.connect(database_url)
    errors: list[str] = []

    async def on_case_received(envelope: Envelope[Any]) -> None:
        try:
            async with PostgresUnitOfWork(pool, source="/t", clock=SystemClock()) as uow:
                if await uow.first_delivery(consumer="test", event_id=envelope.id):
                    await uow.connection.execute("SELECT pg_sleep(0.01)")  # a while in flight
                    await uow.connection.execute(
                        "INSERT INTO tallies VALUES ($1, 1)"
                        " ON CONFLICT (case_id) DO UPDATE SET n = tallies.n + 1",
                        envelope.subject,
                    )
        except Exception as exc:
            errors.append(type(exc).__name__)
            raise

    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    broker = KafkaBroker(kafka, security=faststream_security(), allow_auto_create_topics=False)
    subscribe(
        broker,
        service="test",
        topic=topic,
        group_id=f"group-{topic}",
        handlers={CaseReceived: on_case_received},
        dead_letters=DeadLetterOffice(producer=producer, service="test"),
    )

    async def applied() -> int:
        return int(await admin.fetchval(f'SELECT count(*) FROM "{schema}".tallies'))

    try:
        await broker.start()
        await producer.send_records(
            [
                encode(Envelope(payload=case_received(f"case-{i}"), source="/t"), topic=topic)
                for i in range(RECORDS)
            ]
        )
        terminated = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while await applied() < RECORDS:
            assert loop.time() < deadline, f"{await applied()} of {RECORDS} applied"
            if await applied() > 20 and terminated < 40:
                # Every connection of the consumer's pool, mid-transaction or idle.
                terminated += len(
                    await admin.fetch(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = $1",
                        application,
                    )
                )
            await asyncio.sleep(0.2)
    finally:
        await broker.stop()
        await producer.stop()
        # Every connection came back to the pool, also those whose BEGIN the server
        # dropped: a leaked one would make close() wait for ever.
        await asyncio.wait_for(pool.close(), 10)

    try:
        assert terminated >= 5, "the outage happened under load"
        # Handlers met the terminations: as the server's shutdown of their backend, or,
        # for a connection terminated while idle in the pool (not reset on release), as
        # a closed connection at its next use.
        assert {"ConnectionDoesNotExistError", "AdminShutdownError", "InterfaceError"} & set(errors)
        counts = await admin.fetch(f'SELECT n FROM "{schema}".tallies')
        assert len(counts) == RECORDS
        assert {row["n"] for row in counts} == {1}
        assert await admin.fetchval(f'SELECT count(*) FROM "{schema}".inbox') == RECORDS
    finally:
        await admin.close()
    assert await read_topic(kafka, f"{topic}.dlq", expect=0, within=2, settle=0) == []
