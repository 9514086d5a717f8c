"""The idempotent producer every process publishes with (enable_idempotence, acks=all)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from yiwang.common.envelope import Envelope, KafkaRecord, encode
from yiwang.common.events import Event
from yiwang.common.kafka_security import KafkaSecurity, kafka_security
from yiwang.common.logs import get_logger

log = get_logger(__name__)

# The Java client's murmur2 partitioning by key, as aiokafka's `send` does it: a case's
# records reach the same partition whichever client or path produced them.
_PARTITIONER = DefaultPartitioner()
# Errors after which aiokafka's idempotent producer is dead for good (its sender stops, and
# every later send raises the same): a batch lost to a broker restart leaves a gap in its
# sequence numbers, say. Only a new producer, with a new producer id, sends again.
PRODUCER_DEAD = (OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId, InvalidProducerEpoch)


class EventProducer:
    """The one idempotent producer of a process (enable_idempotence, acks=all).

    It connects with `security` (a service passes its own); without it, with the Kafka
    security settings of the environment, as tools, simulators and tests do."""

    def __init__(
        self, *, bootstrap_servers: str, client_id: str, security: KafkaSecurity | None = None
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._security = security if security is not None else kafka_security()
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("EventProducer used before start()")
        return self._started

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka binds to the running event loop.
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            # A relay round is one batch per partition already: waiting for more only
            # adds latency at every hop.
            linger_ms=0,
            # A relay round of up to 500 records fills few batches (the broker takes 1 MB).
            max_batch_size=512 * 1024,
            request_timeout_ms=15000,
            **self._security.client_options(),
        )
        await producer.start()
        self._started = producer

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def send_records(self, records: Sequence[KafkaRecord]) -> None:
        """Send all, then wait for every acknowledgement: a batch costs one round trip.

        Records go straight into one record batch per partition (aiokafka's batch API),
        partitioned by key as `send` would: no future and no accumulator step per record.
        A producer that died sending them is replaced, and the error raised: the caller
        sends them again (the outbox's rows stay; inboxes absorb any repeat).
        """
        try:
            await self._send_records(records)
        except PRODUCER_DEAD as exc:
            await self.renew(reason=exc)
            raise

    async def renew(self, *, reason: BaseException) -> None:
        """Replace the producer with a new one (a new producer id)."""
        log.warning("producer dead; replaced", error=f"{type(reason).__name__}: {reason}")
        dead, self._started = self._started, None
        if dead is not None:
            with contextlib.suppress(Exception):  # its sender is gone: nothing to flush
                await asyncio.wait_for(dead.stop(), 5)
        await self.start()

    async def _send_records(self, records: Sequence[KafkaRecord]) -> None:
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        batches: dict[tuple[str, int], BatchBuilder] = {}
        pending: list[asyncio.Future[Any]] = []
        for record in records:
            if record.topic not in partitions:
                partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
            known = partitions[record.topic]
            key = record.key or None
            destination = (record.topic, _PARTITIONER(key, known, known))
            batch = batches.get(destination)
            if batch is None:
                batch = batches[destination] = producer.create_batch()
            while (
                batch.append(key=key, value=record.value, timestamp=None, headers=record.headers)
                is None
            ):
                # Full: it goes now, and the partition's next records start another.
                pending.append(
                    await producer.send_batch(batch, destination[0], partition=destination[1])
                )
                batch = batches[destination] = producer.create_batch()
        for (topic, partition), batch in batches.items():
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)

    async def publish(self, envelope: Envelope[Event], *, topic: str) -> None:
        """Publish directly, for tools and simulators. Services publish through the outbox."""
        await self.send_records([encode(envelope, topic=topic)])

    async def ping(self) -> bool:
        try:
            await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        return True
