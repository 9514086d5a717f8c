"""The idempotent producer every process publishes with (enable_idempotence, acks=all)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from yiwang.common.envelope import Envelope, KafkaRecord, encode
from yiwang.common.events import Event
from yiwang.common.kafka_security import KafkaSecurity, kafka_security


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
            linger_ms=5,
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
        """Send all, then wait for every acknowledgement: a batch costs one round trip."""
        pending = [
            await self._producer.send(r.topic, r.value, key=r.key or None, headers=r.headers)
            for r in records
        ]
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
