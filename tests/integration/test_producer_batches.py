"""The producer writes record batches itself (aiokafka's batch API): every record lands
on the partition aiokafka's own `send` picks for its key, in the order given, with its
headers, also when a partition's records fill several batches."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from support import create_test_topics, kafka_options, read_topic
from yiwang.common.envelope import KafkaRecord
from yiwang.common.producer import EventProducer

pytestmark = pytest.mark.integration


async def test_batched_records_keep_partition_order_and_headers(kafka: str) -> None:
    ours, theirs = f"test.{uuid.uuid4().hex[:10]}.v1", f"test.{uuid.uuid4().hex[:10]}.v1"
    await create_test_topics(kafka, [ours, theirs], partitions=6)
    # 40 cases, 30 records each of ~2 KB: several batches per partition.
    records = [
        KafkaRecord(
            topic=ours,
            key=f"case-{n % 40}".encode(),
            value=(f"{n:05d}" + "x" * 2000).encode(),
            headers=[("ce_id", f"id-{n}".encode())],
        )
        for n in range(1200)
    ]
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    reference = AIOKafkaProducer(**kafka_options(kafka))
    await reference.start()
    try:
        await producer.send_records(records)
        for record in records:  # where aiokafka's own send puts each key
            await reference.send(theirs, record.value, key=record.key)
        await reference.flush()
    finally:
        await producer.stop()
        await reference.stop()
    got = await read_topic(kafka, ours, expect=1200, settle=0.5)
    expected = await read_topic(kafka, theirs, expect=1200, settle=0.5)
    assert len(got) == 1200
    partition_of = {r.key: r.partition for r in expected}
    assert all(r.partition == partition_of[r.key] for r in got)
    for key in partition_of:
        mine = [r for r in sorted(got, key=lambda r: r.offset) if r.key == key]
        assert [int(r.value[:5]) for r in mine] == sorted(int(r.value[:5]) for r in mine)
    assert all(dict(r.headers)["ce_id"] == f"id-{int(r.value[:5])}".encode() for r in got)
