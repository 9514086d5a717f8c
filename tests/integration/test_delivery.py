"""At-least-once consumption against real Kafka and PostgreSQL: inbox, retries, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from support import case_received, kafka_options, migrate, read_topic
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
Handler = Callable[[Envelope[Any]], Awaitable[None]]


@asynccontextmanager
async def running_subscriber(
    kafka: str, topic: str, handler: Handler, *, max_attempts: int = 5
) -> AsyncIterator[EventProducer]:
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    broker = KafkaBroker(kafka, security=faststream_security(), allow_auto_create_topics=False)
    subscribe(
        broker,
        service="test",
        topic=topic,
        group_id=f"group-{topic}",
        handlers={CaseReceived: handler},
        dead_letters=DeadLetterOffice(producer=producer, service="test"),
        max_attempts=max_attempts,
    )
    await broker.start()
    try:
        yield producer
    finally:
        await broker.stop()
        await producer.stop()


def tally_handler(pool: asyncpg.Pool, calls: list[str]) -> Handler:
    async def on_case_received(envelope: Envelope[Any]) -> None:
        calls.append(envelope.id)

        uow = PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock())
        async with uow:
            if not await uow.first_delivery(consumer="test", event_id=envelope.id):
                return
            await uow.connection.execute(
                "INSERT INTO tallies VALUES ($1, 1)"
                " ON CONFLICT (case_id) DO UPDATE SET n = tallies.n + 1",
                envelope.subject,
            )

    return on_case_received


async def eventually(condition: Callable[[], bool], *, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def committed_offset(kafka: str, group: str, topic: str) -> int | None:
    admin = AIOKafkaAdminClient(**kafka_options(kafka))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, 0))
    return meta.offset if meta else None


async def test_the_same_event_delivered_twice_is_applied_once(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[str] = []
    envelope = Envelope(payload=case_received("case-twice"), source="/yiwang/test")
    try:
        async with running_subscriber(kafka, topic, tally_handler(pool, calls)) as producer:
            await producer.publish(envelope, topic=topic)
            await producer.publish(envelope, topic=topic)
            await eventually(lambda: len(calls) == 2)
        assert calls == [envelope.id, envelope.id]
        assert await pool.fetchval("SELECT n FROM tallies WHERE case_id = 'case-twice'") == 1
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
        assert await committed_offset(kafka, f"group-{topic}", topic) == 2
    finally:
        await pool.close()


async def test_a_failed_handler_is_not_committed_and_the_record_comes_again(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[str] = []
    inner = tally_handler(pool, calls)

    async def flaky(envelope: Envelope[Any]) -> None:
        if not calls:
            calls.append("failed")
            raise ConnectionResetError("database went away mid-transaction")
        await inner(envelope)

    try:
        async with running_subscriber(kafka, topic, flaky) as producer:
            await producer.publish(
                Envelope(payload=case_received("case-retry"), source="/t"), topic=topic
            )
            await eventually(lambda: len(calls) == 2)
        assert await pool.fetchval("SELECT n FROM tallies WHERE case_id = 'case-retry'") == 1
        assert await committed_offset(kafka, f"group-{topic}", topic) == 1
    finally:
        await pool.close()


async def test_poison_records_go_to_the_dead_letter_topic_and_consumption_goes_on(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[str] = []
    good = encode(Envelope(payload=case_received("case-good"), source="/t"), topic=topic)
    ce = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"p-1"),
        ("ce_source", b"/county"),
        ("ce_type", b"yiwang.case.received.v1"),
    ]
    poison = [
        (b"{not json", ce),
        (b'{"case_id": "x"}', [(k, v if k != "ce_id" else b"p-2") for k, v in ce]),
        (good.value, []),  # no CloudEvents headers at all
    ]
    raw = AIOKafkaProducer(**kafka_options(kafka))
    await raw.start()
    try:
        async with running_subscriber(kafka, topic, tally_handler(pool, calls)):
            for value, headers in poison:
                await raw.send_and_wait(topic, value, key=b"k", headers=headers)
            await raw.send_and_wait(topic, good.value, key=good.key, headers=good.headers)
            await eventually(lambda: len(calls) == 1)
        dead = await read_topic(kafka, f"{topic}.dlq", expect=3)
    finally:
        await raw.stop()
        await pool.close()

    assert len(dead) == 3
    errors = [dict(r.headers)["dlq_error"].decode() for r in dead]
    assert "value is not JSON" in errors[0]
    assert "invalid yiwang.case.received.v1: case: Field required" in errors[1]
    assert "missing CloudEvents header" in errors[2]
    for offset, record in enumerate(dead):
        headers = dict(record.headers)
        assert headers["dlq_origin_topic"].decode() == topic
        assert headers["dlq_origin_offset"].decode() == str(offset)
        assert headers["dlq_origin_partition"] == b"0"
        assert headers["dlq_consumer_group"].decode() == f"group-{topic}"
    assert dead[0].value == b"{not json"  # the original bytes, for inspection and replay
    assert calls == [good.headers[1][1].decode()]


async def test_a_record_the_handler_keeps_failing_on_is_dead_lettered_after_its_attempts(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    attempts: list[str] = []

    async def buggy(envelope: Envelope[Any]) -> None:
        attempts.append(envelope.id)
        raise KeyError("a bug, not an outage")

    async with running_subscriber(kafka, topic, buggy, max_attempts=2) as producer:
        await producer.publish(
            Envelope(payload=case_received("case-bug"), source="/t"), topic=topic
        )
        dead = await read_topic(kafka, f"{topic}.dlq", expect=1)
    assert len(attempts) == 2
    assert len(dead) == 1
    assert "handler failed 2 times: KeyError" in dict(dead[0].headers)["dlq_error"].decode()
