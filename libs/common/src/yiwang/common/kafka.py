"""Kafka plumbing: the idempotent producer, dead letters, and at-least-once subscribers.

A subscriber commits its offset only after the handler returned, and a handler returns
only after its database transaction committed (AckPolicy.NACK_ON_ERROR: on an exception
the consumer seeks back and the record comes again). FastStream's default, ACK_FIRST,
would commit before handling: at-most-once, so it is never used here. Duplicates that
at-least-once delivery brings are absorbed by the inbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind
from yiwang.common.envelope import Envelope, KafkaRecord, UndecodableRecord, decode, encode
from yiwang.common.events import Event
from yiwang.common.logs import get_logger
from yiwang.common.telemetry import (
    DEAD_LETTERS,
    EVENT_HANDLING_SECONDS,
    EVENTS_CONSUMED,
    context_from_traceparent,
    tracer,
)
from yiwang.common.topics import dead_letter_topic

log = get_logger(__name__)

EventHandler = Callable[[Envelope[Any]], Awaitable[None]]
# Called with the record and the decoding error when a record's type is one this
# subscriber handles but its payload is invalid, for services that answer the sender
# (intake's rejection topic) instead of dead-lettering.
InvalidPayloadHandler = Callable[[Any, UndecodableRecord], Awaitable[None]]
# The raw record whose handler is running, for handlers that must check what the sender
# signed over the exact bytes (department-dispatch verifies an HMAC over the value).
CONSUMED_RECORD: ContextVar[Any] = ContextVar("yiwang_consumed_record", default=None)

# Failures worth waiting out (the database or broker is briefly away); anything else is
# a record this code cannot handle, and after MAX_ATTEMPTS it goes to the dead letters.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.CannotConnectNowError,
)
MAX_ATTEMPTS = 5


class EventProducer:
    """The one idempotent producer of a process (enable_idempotence, acks=all)."""

    def __init__(self, *, bootstrap_servers: str, client_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
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


class DeadLetterOffice:
    """Sends records that cannot be handled to `<topic>.dlq`, with the reason in headers."""

    def __init__(self, *, producer: EventProducer, service: str) -> None:
        self._producer = producer
        self._service = service

    async def send(self, *, record: Any, group_id: str, error: str) -> None:
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
        headers += [
            ("dlq_error", error[:2000].encode()),
            ("dlq_origin_topic", record.topic.encode()),
            ("dlq_origin_partition", str(record.partition).encode()),
            ("dlq_origin_offset", str(record.offset).encode()),
            ("dlq_consumer_group", group_id.encode()),
            ("dlq_service", self._service.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_records(
            [
                KafkaRecord(
                    dead_letter_topic(record.topic), record.key or b"", record.value or b"", headers
                )
            ]
        )
        DEAD_LETTERS.labels(self._service, record.topic).inc()
        log.warning(
            "dead-lettered record",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=error[:500],
        )


def subscribe(
    registrar: KafkaRouter | KafkaBroker,
    *,
    service: str,
    topic: str,
    group_id: str,
    handlers: Mapping[type[Event], EventHandler],
    dead_letters: DeadLetterOffice,
    max_attempts: int = MAX_ATTEMPTS,
    on_invalid: InvalidPayloadHandler | None = None,
) -> None:
    """Register an at-least-once subscriber that routes each record by its CloudEvents type.

    Undecodable or invalid records, and types this topic should not carry, go to the
    dead-letter topic and the subscriber moves on. Known types this consumer does not
    handle are skipped (a topic may carry events meant for others).
    """
    by_type = {event_cls.event_type: handler for event_cls, handler in handlers.items()}
    failures: dict[tuple[int, int], int] = {}

    @registrar.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
        title=f"{service}:{topic}",
    )
    async def consume(message: KafkaMessage) -> None:
        record: Any = message.raw_message
        started = time.perf_counter()
        try:
            envelope = decode(record.value, record.headers)
        except UndecodableRecord as exc:
            if on_invalid is not None and exc.event_type in by_type:
                await on_invalid(record, exc)
                EVENTS_CONSUMED.labels(service, topic, "rejected").inc()
                return
            await dead_letters.send(record=record, group_id=group_id, error=exc.reason)
            EVENTS_CONSUMED.labels(service, topic, "dead_lettered").inc()
            return
        handler = by_type.get(envelope.type)
        if handler is None:
            EVENTS_CONSUMED.labels(service, topic, "skipped").inc()
            return
        CONSUMED_RECORD.set(record)
        position = (record.partition, record.offset)
        try:
            with tracer().start_as_current_span(
                f"{topic} process",
                context=context_from_traceparent(envelope.traceparent),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.message.id": envelope.id,
                    "messaging.consumer.group.name": group_id,
                    "yiwang.case_id": envelope.subject,
                },
            ):
                await handler(envelope)
        except TRANSIENT_ERRORS as exc:
            await _back_off(failures, position, exc, topic=topic, service=service)
            raise  # nack: seek back, the record comes again
        except Exception as exc:
            attempts = await _back_off(failures, position, exc, topic=topic, service=service)
            if attempts < max_attempts:
                raise
            failures.pop(position, None)
            await dead_letters.send(
                record=record,
                group_id=group_id,
                error=f"handler failed {attempts} times: {type(exc).__name__}: {exc}",
            )
            EVENTS_CONSUMED.labels(service, topic, "dead_lettered").inc()
            return
        failures.pop(position, None)
        EVENTS_CONSUMED.labels(service, topic, "handled").inc()
        EVENT_HANDLING_SECONDS.labels(service, topic).observe(time.perf_counter() - started)


async def _back_off(
    failures: dict[tuple[int, int], int],
    position: tuple[int, int],
    exc: BaseException,
    *,
    topic: str,
    service: str,
) -> int:
    attempts = failures.get(position, 0) + 1
    failures[position] = attempts
    EVENTS_CONSUMED.labels(service, topic, "failed").inc()
    log.warning(
        "handler failed; record will be retried",
        topic=topic,
        partition=position[0],
        offset=position[1],
        attempt=attempts,
        error=f"{type(exc).__name__}: {exc}",
    )
    await asyncio.sleep(min(0.1 * 2**attempts, 5.0))
    return attempts
