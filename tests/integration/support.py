"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.events import CaseReceived
from yiwang.common.postgres.migrations import apply_migrations, common_migrations

HERE = Path(__file__).resolve().parent


def case_received(case_id: str = "case-1") -> CaseReceived:
    return CaseReceived(
        case_id=case_id,
        case=CaseFacts(
            case_id=case_id,
            case_number="LZ-20261121-0001",
            category="sanitation",
            title="垃圾未清运",
            description="小区门口垃圾两天未清运",
            channel=Channel.PORTAL,
            location=Location(lon=112.56, lat=37.87),
        ),
        received_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    )


async def migrate(database_url: str, schema: str, extra_sql: str = "") -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=common_migrations())
        if extra_sql:
            await conn.execute(f'SET search_path TO "{schema}"; {extra_sql}')
    finally:
        await conn.close()


def run_relay(schema: str, *, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("YIWANG_CRASH_AT", None)
    if crash_at:
        env["YIWANG_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, str(HERE / "relay_once.py"), schema],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def create_test_topics(kafka: str, names: list[str], partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def read_topic(
    kafka: str, topic: str, *, expect: int, within: float = 20.0, settle: float = 1.0
) -> list[Any]:
    """Read a topic from the start until `expect` records arrived (or the time is up), then
    keep listening for `settle` seconds so that an unexpected extra record is seen too."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or {0}
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if len(records) >= expect:
                deadline = min(deadline, loop.time() + settle)
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()
