"""At-least-once subscribers: decode, route by CloudEvents type, retry, dead-letter.

A subscriber commits offsets only after the handlers of the records before them returned,
and a handler returns only after its database transaction committed; a record whose
handler fails is sought back to and comes again, as is every record of a poll whose
handling raised. Offsets are committed by the interval, not by the poll (offsets.py).
FastStream's default, ACK_FIRST, would commit before handling: at-most-once, so it is
never used here. Duplicates that at-least-once delivery brings are absorbed by the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from opentelemetry.trace import SpanKind
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.envelope import Envelope, UndecodableRecord, decode
from yiwang.common.events import Event
from yiwang.common.faults import crash_point
from yiwang.common.logs import get_logger
from yiwang.common.offsets import HandledOffsets, commit_by_interval, rewind
from yiwang.common.outages import is_outage
from yiwang.common.polls import POLLED, no_body_decoding, tolerant_parsing
from yiwang.common.telemetry import (
    CONSUMING_TOPICS,
    EVENT_HANDLING_SECONDS,
    EVENTS_CONSUMED,
    span,
)

log = get_logger(__name__)

EventHandler = Callable[[Envelope[Any]], Awaitable[None]]
# Handles many envelopes of one type in one database transaction (set-based: a few
# statements for the lot instead of a few per record). Raising means none of them took
# effect; they are then handled one at a time, each as a batch of one.
BatchEventHandler = Callable[[Sequence[Envelope[Any]]], Awaitable[None]]
# Called with the record and the decoding error when a record's type is one this
# subscriber handles but its payload is invalid, for services that answer the sender
# (intake's rejection topic) instead of dead-lettering.
InvalidPayloadHandler = Callable[[Any, UndecodableRecord], Awaitable[None]]
# The raw record whose handler is running, for handlers that must check what the sender
# signed over the exact bytes (department-dispatch verifies an HMAC over the value).
CONSUMED_RECORD: ContextVar[Any] = ContextVar("yiwang_consumed_record", default=None)

# Outages (yiwang.common.outages: the database or the broker away, restarting, failing
# over) are retried without limit and never counted; anything else is a record this code
# cannot handle, and after MAX_ATTEMPTS such faults it goes to the dead letters.
MAX_ATTEMPTS = 5
# A record's retries wait BACK_OFF_SECONDS * 2**n, at most BACK_OFF_CAP_SECONDS.
BACK_OFF_SECONDS = 0.1
BACK_OFF_CAP_SECONDS = 5.0
BATCH_RECORDS = 500  # records taken from the broker at a time
# How long an idle subscriber waits in one poll (records end the wait at once).
POLL_WAIT_MS = 500
# A gathered subscription (off the path a case takes to its department) lets the broker
# hold a fetch until this much has come or this long has passed: a few polls a second of
# many records each, instead of one poll, transaction and offset commit per record.
GATHER_WAIT_MS = 500
GATHER_BYTES = 1 << 20


def subscribe(
    registrar: KafkaRouter | KafkaBroker,
    *,
    service: str,
    topic: str | Sequence[str],
    group_id: str,
    handlers: Mapping[type[Event], EventHandler],
    dead_letters: DeadLetterOffice,
    max_attempts: int = MAX_ATTEMPTS,
    on_invalid: InvalidPayloadHandler | None = None,
    batched: Mapping[type[Event], BatchEventHandler] | None = None,
    gathered: bool = False,
) -> None:
    """Register an at-least-once subscriber that routes each record by its CloudEvents type.

    Undecodable or invalid records, and types this topic should not carry, go to the
    dead-letter topic and the subscriber moves on. Known types this consumer does not
    handle are skipped (a topic may carry events meant for others).

    Records come in batches; each partition's records are handled in order, one after
    the other, while different partitions (different cases) are handled concurrently.
    Offsets are committed, by the interval, only for records whose transaction
    committed (offsets.py). A record whose handler fails stops its partition there: the consumer seeks
    back to it, so it comes again, and nothing after it in that partition is handled first.

    `batched` handlers take a whole poll's envelopes of their type at once (see
    `_RecordHandler.handle_batch` for when that applies); when such a call fails, the
    records are handled as above, one at a time, each passed to it as a batch of one.

    `gathered` subscriptions trade up to GATHER_WAIT_MS of delay for far fewer polls at
    a low rate: for consumers no case waits on (projections, views, alerts).

    Several topics make one consumer: a poll then holds records of them all, so a batch
    handler takes a case's events from every topic in one transaction.
    """
    topics = (topic,) if isinstance(topic, str) else tuple(topic)
    name = ",".join(topics)
    batched = dict(batched or {})
    by_type: dict[str, EventHandler] = {
        event_cls.event_type: handler for event_cls, handler in handlers.items()
    }
    by_type.update({event_cls.event_type: _one_at_a_time(h) for event_cls, h in batched.items()})
    records = _RecordHandler(
        service=service,
        topic=name,
        group_id=group_id,
        by_type=by_type,
        batched={event_cls.event_type: handler for event_cls, handler in batched.items()},
        dead_letters=dead_letters,
        max_attempts=max_attempts,
        on_invalid=on_invalid,
    )

    subscriber = registrar.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=BATCH_RECORDS,
        batch_timeout_ms=GATHER_WAIT_MS if gathered else POLL_WAIT_MS,
        fetch_max_wait_ms=GATHER_WAIT_MS if gathered else 500,
        fetch_min_bytes=GATHER_BYTES if gathered else 1,
        ack_policy=AckPolicy.MANUAL,  # offsets.py commits; `consume` rewinds on error
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
        parser=tolerant_parsing,
        decoder=no_body_decoding,
        title=f"{service}:{name}",
    )
    offsets = HandledOffsets(topic=name)
    commit_by_interval(subscriber, offsets)

    @subscriber
    async def consume() -> None:
        # The poll comes from the parser, not as an injected `KafkaMessage`: FastStream
        # resolves that annotation in a worker thread, a thread hand-off per poll.
        message = POLLED.get()
        batch: tuple[Any, ...] = message.raw_message
        offsets.begin()
        try:
            stopped_at = await _handle_poll(records, batch)
        except BaseException as exc:
            if isinstance(exc, Exception):  # not a cancellation: the poll comes again
                rewind(message.consumer, batch)
            offsets.abandoned()
            raise
        for record in stopped_at:  # it and what follows it come again
            message.consumer.seek(TopicPartition(record.topic, record.partition), record.offset)
        offsets.done(batch, stopped_at=stopped_at)


async def _handle_poll(records: _RecordHandler, batch: tuple[Any, ...]) -> list[Any]:
    """Handle a poll; the records each partition stopped at (to be read again)."""
    if records.batched:
        batch = tuple(await records.handle_batch(batch))
    by_partition: dict[tuple[str, int], list[Any]] = {}
    for record in batch:
        by_partition.setdefault((record.topic, record.partition), []).append(record)
    stopped_at = await asyncio.gather(
        *(records.handle_partition(rs) for rs in by_partition.values())
    )
    return [record for record in stopped_at if record is not None]


def _one_at_a_time(handler: BatchEventHandler) -> EventHandler:
    async def handle(envelope: Envelope[Any]) -> None:
        await handler([envelope])

    return handle


class _RecordHandler:
    """Handles one record at a time: decode, route by type, dead-letter, retry; and whole
    polls at once for batched types."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        group_id: str,
        by_type: dict[str, EventHandler],
        batched: dict[str, BatchEventHandler],
        dead_letters: DeadLetterOffice,
        max_attempts: int,
        on_invalid: InvalidPayloadHandler | None,
    ) -> None:
        self.service = service
        self.topic = topic
        self.group_id = group_id
        self.by_type = by_type
        self.batched = batched
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts
        self.on_invalid = on_invalid
        # Per record being retried: the faults it met (towards max_attempts), and the
        # outages it waited out (for the back-off only).
        self.failures: dict[tuple[str, int, int], int] = {}
        self.outages: dict[tuple[str, int, int], int] = {}

    async def handle_batch(self, batch: Sequence[Any]) -> list[Any]:
        """Hand a poll's records of batched types to their batch handler in one call;
        return the records left to be handled one at a time (all of them when the batch
        path does not apply or the batch failed).

        A topic's records take the batch path when every decodable one of them goes to
        that one handler (one handler may take several types): a topic with records of
        types handled one at a time keeps the per-partition path, which keeps their
        order; other topics of the subscription are not held to it, having no order
        against it. Records that end at once (undecodable, rejected, of a type nobody
        here handles) are taken after the batch committed; their order against it does
        not matter. While a record is being retried, its topic's records go one at a time.
        """
        retried = self.failures.keys() | self.outages.keys()
        # Topics with records handled one at a time: those being retried, and those of
        # types not batched.
        ordered_topics = {r.topic for r in batch if (r.topic, r.partition, r.offset) in retried}
        decoded: list[tuple[Any, Envelope[Any] | None]] = []
        for record in batch:
            envelope: Envelope[Any] | None = None
            with contextlib.suppress(UndecodableRecord):
                envelope = decode(record.value, record.headers)
            if envelope and envelope.type not in self.batched and envelope.type in self.by_type:
                ordered_topics.add(record.topic)
            decoded.append((record, envelope))
        envelopes: list[Envelope[Any]] = []
        topics: list[str] = []  # each envelope's
        ending_at_once: list[Any] = []
        one_at_a_time: list[Any] = []
        for record, envelope in decoded:
            if record.topic in ordered_topics:
                one_at_a_time.append(record)
            elif envelope is not None and envelope.type in self.batched:
                envelopes.append(envelope)
                topics.append(record.topic)
            else:
                ending_at_once.append(record)
        if len({id(self.batched[e.type]) for e in envelopes}) > 1:
            return list(batch)  # two handlers: each keeps its records' order on the other path
        if envelopes and not await self._run_batch(envelopes, topics):
            return list(batch)
        for record in ending_at_once:
            await self.handle(record)
        return one_at_a_time

    async def _run_batch(self, envelopes: list[Envelope[Any]], topics: list[str]) -> bool:
        started = time.perf_counter()
        subscription = CONSUMING_TOPICS.set(
            {e.id: t for e, t in zip(envelopes, topics, strict=True)}
        )
        CONSUMED_RECORD.set(None)
        destination = topics[0] if len(set(topics)) == 1 else self.topic
        try:
            with span(
                f"{destination} process batch",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": destination,
                    "messaging.consumer.group.name": self.group_id,
                    "messaging.batch.message_count": len(envelopes),
                },
            ):
                await self.batched[envelopes[0].type](envelopes)
        except Exception as exc:
            for topic, count in Counter(topics).items():
                EVENTS_CONSUMED.labels(self.service, topic, "batch_failed").inc(count)
            log.warning(
                "batch failed; its records are handled one at a time",
                topic=self.topic,
                records=len(envelopes),
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        finally:
            CONSUMING_TOPICS.reset(subscription)
        crash_point("consumer.after_batch")  # committed in the database, not yet in Kafka
        each = (time.perf_counter() - started) / len(envelopes)
        for topic, count in Counter(topics).items():
            EVENTS_CONSUMED.labels(self.service, topic, "handled").inc(count)
            seconds = EVENT_HANDLING_SECONDS.labels(self.service, topic)
            for _ in range(count):
                seconds.observe(each)
        return True

    async def handle_partition(self, records: list[Any]) -> Any | None:
        """Handle in order; return the record that failed (to be read again), or None."""
        for record in records:
            if not await self.handle(record):
                return record
        return None

    async def handle(self, record: Any) -> bool:
        """True when the record is done with (handled, skipped, rejected or dead-lettered)."""
        service, topic = self.service, record.topic
        started = time.perf_counter()
        try:
            envelope = decode(record.value, record.headers)
        except UndecodableRecord as exc:
            if self.on_invalid is not None and exc.event_type in self.by_type:
                await self.on_invalid(record, exc)
                EVENTS_CONSUMED.labels(service, topic, "rejected").inc()
                return True
            await self.dead_letters.send(record=record, group_id=self.group_id, error=exc.reason)
            EVENTS_CONSUMED.labels(service, topic, "dead_lettered").inc()
            return True
        handler = self.by_type.get(envelope.type)
        if handler is None:
            EVENTS_CONSUMED.labels(service, topic, "skipped").inc()
            return True
        CONSUMED_RECORD.set(record)
        position = (record.topic, record.partition, record.offset)
        try:
            with span(
                f"{topic} process",
                kind=SpanKind.CONSUMER,
                traceparent=envelope.traceparent,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.message.id": envelope.id,
                    "messaging.consumer.group.name": self.group_id,
                    "yiwang.case_id": envelope.subject,
                },
            ):
                await handler(envelope)
        except Exception as exc:
            if is_outage(exc):
                await _back_off(
                    self.outages, position, exc, topic=topic, service=service, outage=True
                )
                return False
            attempts = await _back_off(self.failures, position, exc, topic=topic, service=service)
            if attempts < self.max_attempts:
                return False
            self.failures.pop(position, None)
            self.outages.pop(position, None)
            await self.dead_letters.send(
                record=record,
                group_id=self.group_id,
                error=f"handler failed {attempts} times: {type(exc).__name__}: {exc}",
            )
            EVENTS_CONSUMED.labels(service, topic, "dead_lettered").inc()
            return True
        self.failures.pop(position, None)
        self.outages.pop(position, None)
        crash_point("consumer.after_handle")  # committed in the database, not yet in Kafka
        EVENTS_CONSUMED.labels(service, topic, "handled").inc()
        EVENT_HANDLING_SECONDS.labels(service, topic).observe(time.perf_counter() - started)
        return True


async def _back_off(
    failures: dict[tuple[str, int, int], int],
    position: tuple[str, int, int],
    exc: BaseException,
    *,
    topic: str,
    service: str,
    outage: bool = False,
) -> int:
    attempts = failures.get(position, 0) + 1
    failures[position] = attempts
    EVENTS_CONSUMED.labels(service, topic, "outage" if outage else "failed").inc()
    log.warning(
        "database or broker away; record will be retried"
        if outage
        else "handler failed; record will be retried",
        topic=topic,
        partition=position[1],
        offset=position[2],
        attempt=attempts,
        error=f"{type(exc).__name__}: {exc}",
    )
    await asyncio.sleep(min(BACK_OFF_SECONDS * 2**attempts, BACK_OFF_CAP_SECONDS))
    return attempts
