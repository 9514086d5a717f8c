"""The outbox relay: committed outbox rows published to Kafka (acks=all, idempotent) and
deleted as sent, per second. Every event a service raises goes this way.

    uv run --frozen python benchmarks/outbox_relay.py [--events 30000]

The rows are real CaseStateChanged envelopes over 6 partitions; the clock runs from the
first publish to the last row deleted as sent.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from harness import create_database, delete_topics, drop_database, stack_settings, unique_prefix
from yiwang.common.case import Channel
from yiwang.common.clock import SystemClock
from yiwang.common.events import CaseStateChanged
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.postgres.migrations import apply_migrations, common_migrations
from yiwang.common.postgres.outbox import OutboxRelay
from yiwang.common.producer import EventProducer
from yiwang.common.states import CaseState
from yiwang.common.topic_admin import create_topics
from yiwang.common.topics import CASE_LIFECYCLE


async def fill(pool: asyncpg.Pool, *, events: int, prefix: str) -> None:
    now = datetime.now(UTC)
    for start in range(0, events, 500):
        async with PostgresUnitOfWork(
            pool, source="/bench", clock=SystemClock(), topic_prefix=prefix
        ) as uow:
            for _ in range(start, min(events, start + 500)):
                await uow.emit(
                    CaseStateChanged(
                        case_id=str(uuid.uuid4()),
                        case_number="YQ-20261122-00042",
                        from_state=CaseState.RECEIVED,
                        to_state=CaseState.ROUTED,
                        actor="grid-routing",
                        note="R-sanitation: 环卫保洁由城管局牵头",
                        at=now,
                        category="sanitation",
                        channel=Channel.PORTAL,
                    ),
                    topic=CASE_LIFECYCLE,
                )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30000)
    args = parser.parse_args()
    settings = stack_settings()
    kafka = settings["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = unique_prefix()
    database = await create_database(settings["DATABASE_URL"])
    await create_topics(bootstrap_servers=kafka, prefix=prefix)
    conn = await asyncpg.connect(database)
    await apply_migrations(conn, schema="bench", migrations=common_migrations())
    await conn.close()
    pool = await open_pool(dsn=database, schema="bench", application_name="bench")
    producer = EventProducer(bootstrap_servers=kafka, client_id="bench")
    await producer.start()
    try:
        await fill(pool, events=args.events, prefix=prefix)
        relay = OutboxRelay(pool=pool, producer=producer, service="bench", schema="bench")
        started = time.perf_counter()
        published = 0
        while published < args.events:
            published += await relay.publish_pending()
        elapsed = time.perf_counter() - started
        print(
            f"outbox relay: {published / elapsed:,.0f} events/s"
            f" ({published} published and deleted in {elapsed:.1f}s)"
        )
    finally:
        await producer.stop()
        await pool.close()
        await drop_database(settings["DATABASE_URL"], database)
        await delete_topics(kafka, prefix)


if __name__ == "__main__":
    asyncio.run(main())
