"""Smoke test: does the local Kafka broker work with the project's Python client?

Exercises exactly the aiokafka features the project relies on, against the broker
named by KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), connected as the Kafka security
settings say (yiwang.common.kafka_security; the local stack's are `infra/stack.py env`):

  * AIOKafkaAdminClient.create_topics (and delete_topics, to clean up)
  * AIOKafkaProducer(enable_idempotence=True, acks="all").send_and_wait with headers
  * AIOKafkaConsumer with group_id, enable_auto_commit=False, subscribe(),
    manual commit(), seek(), headers on consumed records, and a second consumer
    in the same group resuming from the committed offset.

Usage:  set -a; . <(uv run python infra/stack.py env); uv run python infra/smoke_kafka.py
        (exit 0 = all verified; yiwang-tools may create, use and delete any topic)
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from yiwang.common.kafka_security import kafka_security

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MESSAGES = 5
OVERALL_TIMEOUT_S = 90.0


def ok(what: str) -> None:
    print(f"ok: {what}", flush=True)


async def consume_n(
    consumer: AIOKafkaConsumer, n: int, timeout_s: float = 30.0
) -> list[ConsumerRecord]:
    """Collect n records (partition assignment via the group coordinator included)."""
    records: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(records) < n:
        if loop.time() > deadline:
            raise TimeoutError(f"received {len(records)} of {n} records within {timeout_s:.0f}s")
        batch = await consumer.getmany(timeout_ms=1000)
        for recs in batch.values():
            records.extend(recs)
    return records


async def smoke() -> None:
    options = {"bootstrap_servers": BOOTSTRAP, **kafka_security().client_options()}
    topic = f"yiwang-smoke-{uuid.uuid4().hex[:8]}"
    group = f"yiwang-smoke-{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(topic, 0)

    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        # One partition keeps offsets predictable for the seek/commit checks.
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        ok(f"AIOKafkaAdminClient.create_topics created {topic!r}")

        producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            offsets = []
            for i in range(MESSAGES):
                md = await producer.send_and_wait(
                    topic,
                    value=f"value-{i}".encode(),
                    key=f"key-{i}".encode(),
                    partition=0,
                    headers=[("event-id", f"id-{i}".encode()), ("kind", b"smoke")],
                )
                offsets.append(md.offset)
            assert offsets == list(range(MESSAGES)), f"unexpected offsets {offsets}"
            ok(
                f"AIOKafkaProducer(enable_idempotence=True, acks='all').send_and_wait x{MESSAGES}, offsets {offsets}"
            )

            consumer = AIOKafkaConsumer(
                topic,
                **options,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            try:
                records = await consume_n(consumer, MESSAGES)
                assert [r.value for r in records] == [
                    f"value-{i}".encode() for i in range(MESSAGES)
                ]
                ok(
                    f"AIOKafkaConsumer(group_id=..., enable_auto_commit=False) joined group and read {len(records)} records"
                )

                headers = dict(records[2].headers)
                assert headers == {"event-id": b"id-2", "kind": b"smoke"}, (
                    f"headers {records[2].headers!r}"
                )
                ok(f"headers read back: {records[2].headers!r}")

                await consumer.commit({tp: 3})
                committed = await consumer.committed(tp)
                assert committed == 3, f"committed offset {committed}, expected 3"
                ok("manual commit({tp: 3}) stored; committed(tp) == 3")

                consumer.seek(tp, 1)
                again = await consume_n(consumer, 1)
                assert again[0].offset == 1, f"after seek got offset {again[0].offset}"
                assert again[0].value == b"value-1", f"after seek got {again[0].value!r}"
                ok("seek(tp, 1) re-delivered offset 1")
            finally:
                await consumer.stop()

            # A fresh member of the same group must resume from the committed offset (3).
            consumer2 = AIOKafkaConsumer(
                topic,
                **options,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer2.start()
            try:
                resumed = await consume_n(consumer2, MESSAGES - 3)
                assert [r.offset for r in resumed] == list(range(3, MESSAGES)), [
                    r.offset for r in resumed
                ]
                ok(
                    f"second consumer in the group resumed at committed offset 3 (read offsets {[r.offset for r in resumed]})"
                )
            finally:
                await consumer2.stop()
        finally:
            await producer.stop()

        await admin.delete_topics([topic])
        ok(f"AIOKafkaAdminClient.delete_topics removed {topic!r}")
    finally:
        await admin.close()


def main() -> int:
    # aiokafka logs transient warnings (e.g. "coordinator not available" while the broker
    # creates __consumer_offsets on first use); only real errors belong in this output.
    logging.basicConfig(level=logging.ERROR)
    # On a fresh broker the first FindCoordinator fails (GroupCoordinatorNotAvailable)
    # while __consumer_offsets is created; aiokafka logs that at ERROR and retries.
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
    print(f"Kafka smoke test against {BOOTSTRAP} ({kafka_security().describe()})", flush=True)
    try:
        asyncio.run(asyncio.wait_for(smoke(), OVERALL_TIMEOUT_S))
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("all Kafka smoke checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
