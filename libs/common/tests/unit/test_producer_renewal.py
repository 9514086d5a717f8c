"""A producer that aiokafka declared dead is replaced: after a broker restart left a gap in
its sequence numbers, every later send would fail the same way until the process restarted."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from yiwang.common.envelope import KafkaRecord
from yiwang.common.kafka_security import KafkaSecurity
from yiwang.common.producer import EventProducer


class OneDeadProducer(EventProducer):
    """Its first producer dies on the first send; the ones after it send."""

    def __init__(self) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:1", client_id="t", security=KafkaSecurity())
        self.producers = 0
        self.sent: list[tuple[int, int]] = []  # (producer, records)

    async def start(self) -> None:
        self.producers += 1

    async def stop(self) -> None:
        pass

    async def _send_records(self, records: Sequence[KafkaRecord]) -> None:
        if self.producers == 1:
            raise OutOfOrderSequenceNumber()
        self.sent.append((self.producers, len(records)))


async def test_a_dead_producer_is_replaced_and_the_records_go_with_the_next() -> None:
    producer = OneDeadProducer()
    await producer.start()
    records = [KafkaRecord(topic="t.v1", key=b"k", value=b"v", headers=[])]
    with pytest.raises(OutOfOrderSequenceNumber):  # the caller keeps them, and tries again
        await producer.send_records(records)
    await producer.send_records(records)
    assert producer.sent == [(2, 1)]
