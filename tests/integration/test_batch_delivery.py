"""Batched consumption against real Kafka and PostgreSQL: a poll's records in one
transaction, and one record at a time when that fails, losing and doubling nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from support import case_received, kafka_options, migrate, read_topic
from test_delivery import TALLIES, committed_offset, eventually
from yiwang.common.clock import SystemClock
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseReceived
from yiwang.common.kafka_security import faststream_security
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.producer import EventProducer
from yiwang.common.subscriber import subscribe

pytestmark = pytest.mark.integration

BatchHandler = Callable[[Sequence[Envelope[Any]]], Awaitable[None]]


@asynccontextmanager
async def batched_subscriber(
    kafka: str, topic: str, handler: BatchHandler, *, max_attempts: int = 5
) -> AsyncIterator[None]:
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    broker = KafkaBroker(kafka, security=faststream_security(), allow_auto_create_topics=False)
    subscribe(
        broker,
        service="test",
        topic=topic,
        group_id=f"group-{topic}",
        handlers={},
        batched={CaseReceived: handler},
        dead_letters=DeadLetterOffice(producer=producer, service="test"),
        max_attempts=max_attempts,
    )
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
        await producer.stop()


def batch_tally_handler(pool: asyncpg.Pool, calls: list[list[str]]) -> BatchHandler:
    """Tallies every case of the batch in one transaction, then fails if a bad case was in
    it: its writes must then be undone."""

    async def on_cases_received(envelopes: Sequence[Envelope[Any]]) -> None:
        calls.append([e.subject for e in envelopes])
        async with PostgresUnitOfWork(pool, source="/t", clock=SystemClock()) as uow:
            fresh = await uow.first_deliveries(consumer="test", event_ids=[e.id for e in envelopes])
            for envelope in envelopes:
                if envelope.id not in fresh:
                    continue
                fresh.discard(envelope.id)  # the same event twice in one batch counts once
                await uow.connection.execute(
                    "INSERT INTO tallies VALUES ($1, 1)"
                    " ON CONFLICT (case_id) DO UPDATE SET n = tallies.n + 1",
                    envelope.subject,
                )
            if any(e.subject == "case-bad" for e in envelopes):
                raise KeyError("a bug that this one case triggers")

    return on_cases_received


async def produce(kafka: str, topic: str, records: list[tuple[bytes, list[Any]]]) -> None:
    raw = AIOKafkaProducer(**kafka_options(kafka))
    await raw.start()
    try:
        for value, headers in records:
            await raw.send(topic, value, key=b"k", headers=headers)
        await raw.flush()
    finally:
        await raw.stop()


def received(case_id: str, topic: str) -> tuple[bytes, list[Any]]:
    record = encode(Envelope(payload=case_received(case_id), source="/t"), topic=topic)
    return record.value, record.headers


async def test_a_poll_is_handled_in_batches_and_its_offsets_committed(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[list[str]] = []
    records = [received(f"case-{n}", topic) for n in range(60)]
    records.append(records[7])  # a redelivered event, the same ce_id
    await produce(kafka, topic, records)
    try:
        async with batched_subscriber(kafka, topic, batch_tally_handler(pool, calls)):
            await eventually(lambda: sum(len(c) for c in calls) == 61)
        tallies = dict(await pool.fetch("SELECT case_id, n FROM tallies"))
        assert await committed_offset(kafka, f"group-{topic}", topic) == 61
    finally:
        await pool.close()
    assert len(calls) < 61, "records already on the topic come in batches, not one by one"
    assert tallies == {f"case-{n}": 1 for n in range(60)}


async def test_a_failing_batch_is_undone_and_its_records_handled_one_at_a_time(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[list[str]] = []
    good = [received(f"case-{n}", topic) for n in range(20)]
    _, headers = good[0]
    not_json = (b"{not json", [(k, b"p-1" if k == "ce_id" else v) for k, v in headers])
    await produce(kafka, topic, [*good[:10], received("case-bad", topic), not_json, *good[10:]])
    try:
        async with batched_subscriber(
            kafka, topic, batch_tally_handler(pool, calls), max_attempts=2
        ):
            dead = await read_topic(kafka, f"{topic}.dlq", expect=2)
            await eventually(lambda: sum(c == ["case-bad"] for c in calls) == 2)
        tallies = dict(await pool.fetch("SELECT case_id, n FROM tallies"))
        assert await committed_offset(kafka, f"group-{topic}", topic) == 22
    finally:
        await pool.close()

    assert len(calls[0]) == 21, "the first call had the whole poll's decodable records"
    assert [c for c in calls[1:] if len(c) > 1] == [], "then one record at a time"
    # The failed batch's writes were rolled back: each good case counted exactly once, and
    # the bad one's count never committed.
    assert tallies == {f"case-{n}": 1 for n in range(20)}
    errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)
    assert len(dead) == 2, "the undecodable record is dead-lettered once, not once per path"
    assert "handler failed 2 times: KeyError" in errors[0]
    assert "value is not JSON" in errors[1]


async def test_a_header_that_is_not_utf8_does_not_stop_consumption(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    """FastStream reads every header as UTF-8 and would fail the whole poll, again and
    again, on one record whose sender put raw bytes in a header nobody here reads."""
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[list[str]] = []
    value, headers = received("case-odd", topic)
    odd = (value, [*headers, ("x-sender-note", b"\xff\xfe")])
    await produce(kafka, topic, [received("case-0", topic), odd, received("case-1", topic)])
    try:
        async with batched_subscriber(kafka, topic, batch_tally_handler(pool, calls)):
            await eventually(lambda: sum(len(c) for c in calls) == 3)
        tallies = dict(await pool.fetch("SELECT case_id, n FROM tallies"))
    finally:
        await pool.close()
    assert tallies == {"case-0": 1, "case-odd": 1, "case-1": 1}
