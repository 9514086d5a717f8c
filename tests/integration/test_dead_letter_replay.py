"""The dead-letter desk against real Kafka and PostgreSQL: a record dead-lettered while its
handler was broken is listed with its error, shown, replayed after the fix with its
ce_id, and applied once; replayed twice (on purpose) it is still applied once, and the
replay log says who replayed what."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from support import case_received, create_test_topics, migrate, new_topic_prefix, read_topic
from yiwang.common.clock import SystemClock
from yiwang.common.dead_letter_replay import REPLAYED_FROM
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived
from yiwang.common.kafka_security import faststream_security
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.producer import EventProducer
from yiwang.common.subscriber import subscribe

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
ORIGIN = "case.received.v1"
TALLIES = "CREATE TABLE tallies (case_id text PRIMARY KEY, n int NOT NULL);"
Handler = Callable[[Envelope[Any]], Awaitable[None]]


@asynccontextmanager
async def consuming(kafka: str, handler: Handler) -> AsyncIterator[EventProducer]:
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    broker = KafkaBroker(kafka, security=faststream_security(), allow_auto_create_topics=False)
    subscribe(
        broker,
        service="test",
        topic=PREFIX + ORIGIN,
        group_id=f"{PREFIX}group",
        handlers={CaseReceived: handler},
        dead_letters=DeadLetterOffice(producer=producer, service="test"),
        max_attempts=2,
    )
    await broker.start()
    try:
        yield producer
    finally:
        await broker.stop()
        await producer.stop()


async def eventually(condition: Callable[[], bool], *, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def desk(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it: its own process, Kafka settings from the environment
    (yiwang-tools locally), the module's topic prefix."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "yiwang.common.dead_letters_cli", *args],
        env={**os.environ, "YIWANG_TOPIC_PREFIX": PREFIX},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_dead_letter_is_replayed_after_the_fix_and_applied_once(
    kafka: str, database_url: str, schema: str
) -> None:
    await create_test_topics(kafka, [PREFIX + ORIGIN, f"{PREFIX}{ORIGIN}.dlq"])
    await migrate(database_url, schema, TALLIES)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    calls: list[str] = []

    async def broken(envelope: Envelope[Any]) -> None:
        calls.append(envelope.id)
        raise KeyError("the handler's bug")

    async def fixed(envelope: Envelope[Any]) -> None:
        calls.append(envelope.id)
        async with PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock()) as uow:
            if await uow.first_delivery(consumer="test", event_id=envelope.id):
                await uow.connection.execute(
                    "INSERT INTO tallies VALUES ($1, 1)"
                    " ON CONFLICT (case_id) DO UPDATE SET n = tallies.n + 1",
                    envelope.subject,
                )

    envelope = Envelope(payload=case_received("case-dead"), source="/yiwang/test")
    try:
        async with consuming(kafka, broken) as producer:
            await producer.publish(envelope, topic=PREFIX + ORIGIN)
            await read_topic(kafka, f"{PREFIX}{ORIGIN}.dlq", expect=1, settle=0)
        assert calls == [envelope.id, envelope.id]

        listed = await desk("list", ORIGIN, "--json")
        assert listed.returncode == 0, listed.stderr
        [line] = [json.loads(x) for x in listed.stdout.splitlines()]
        assert line["ce_id"] == envelope.id
        assert line["position"] == "0:0"
        assert "handler failed 2 times: KeyError" in line["error"]
        assert line["replayed_at"] == ""
        shown = await desk("show", f"{ORIGIN}.dlq", "0")
        assert shown.returncode == 0, shown.stderr
        assert f"ce_id: {envelope.id}" in shown.stdout
        assert '"case_id": "case-dead"' in shown.stdout

        calls.clear()
        async with consuming(kafka, fixed):
            replayed = await desk("replay", ORIGIN, "--ce-id", envelope.id, "--note", "fix #1")
            assert replayed.returncode == 0, replayed.stderr
            await eventually(lambda: len(calls) == 1)
            assert await pool.fetchval("SELECT n FROM tallies WHERE case_id = 'case-dead'") == 1

            twice = await desk("replay", ORIGIN, "--offset", "0:0")
            assert twice.returncode == 1
            assert "already replayed" in twice.stderr

            again = await desk("replay", ORIGIN, "--all", "--again")
            assert again.returncode == 0, again.stderr
            await eventually(lambda: len(calls) == 2)
        assert calls == [envelope.id, envelope.id]
        assert await pool.fetchval("SELECT n FROM tallies WHERE case_id = 'case-dead'") == 1
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
    finally:
        await pool.close()

    origin = await read_topic(kafka, PREFIX + ORIGIN, expect=3, settle=0)
    first, replay = origin[0], origin[1]
    assert replay.value == first.value
    assert replay.key == first.key
    headers = dict(replay.headers)
    assert headers["ce_id"] == envelope.id.encode()
    assert headers[REPLAYED_FROM] == f"{PREFIX}{ORIGIN}.dlq:0:0".encode()
    assert not any(k.startswith("dlq_") for k in headers)

    history = await desk("history", ORIGIN)
    assert history.returncode == 0, history.stderr
    log = [json.loads(x) for x in history.stdout.splitlines()]
    assert [(r["ce_id"], r["offset"], r["note"]) for r in log] == [
        (envelope.id, 0, "fix #1"),
        (envelope.id, 0, ""),
    ]
    listed = await desk("list", ORIGIN, "--json")
    assert json.loads(listed.stdout)["replayed_at"] == log[-1]["replayed_at"]
