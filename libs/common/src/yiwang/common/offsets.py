"""Consumer offsets committed by the interval, not by the poll.

Committing after every poll costs a request to the group coordinator for each one: at a
steady trickle, one per record at every hop of a case's way. Instead each poll's handled
offsets are remembered and committed
- at most every COMMIT_INTERVAL_SECONDS while records keep coming,
- at once when a poll comes back empty (the subscriber has caught up),
- and when the subscriber stops, after the poll in hand is done with.

Only offsets of handled records are committed, never the consumer's position, so a crash or
a rebalance can bring records again but never skip one; the inbox absorbs what comes again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from itertools import chain
from types import MethodType
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from yiwang.common.logs import get_logger

log = get_logger(__name__)

COMMIT_INTERVAL_SECONDS = 1.0
# How long a stopping subscriber waits for the poll in hand before committing without it.
STOP_GRACE_SECONDS = 15.0


class HandledOffsets:
    """One subscriber's handled-but-uncommitted offsets, and its polling."""

    def __init__(self, *, topic: str) -> None:
        self._topic = topic  # for the logs
        self._handled: dict[TopicPartition, int] = {}
        self._committed_at = time.monotonic()
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self._idle.clear()

    def done(self, records: Sequence[Any], *, stopped_at: Iterable[Any] = ()) -> None:
        """A poll was handled: each partition's next offset is the one after its last record,
        or a stopped record's own (it comes again)."""
        for record in records:  # in offset order within a partition
            self._handled[TopicPartition(record.topic, record.partition)] = record.offset + 1
        for record in stopped_at:
            self._handled[TopicPartition(record.topic, record.partition)] = record.offset
        self._idle.set()

    def abandoned(self) -> None:
        """A poll's handling ended by an exception: nothing of it counts as handled."""
        self._idle.set()

    async def poll(self, subscriber: Any, consumer: Any) -> tuple[Any, ...]:
        """Replaces FastStream's `get_msg`: it sleeps batch_timeout_ms again after an empty
        poll, so a record arriving then would wait that long at every hop; here an idle
        subscriber waits in `getmany` alone, which returns as soon as records come."""
        if self._handled and time.monotonic() - self._committed_at >= COMMIT_INTERVAL_SECONDS:
            await self.commit(consumer)
        polled = await consumer.getmany(
            timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
        )
        if not polled and self._handled:
            await self.commit(consumer)
        return tuple(chain.from_iterable(polled.values()))

    async def commit(self, consumer: Any) -> None:
        assigned = consumer.assignment()
        offsets = {tp: n for tp, n in self._handled.items() if tp in assigned}
        self._handled.clear()
        self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # Rebalanced meanwhile: the partitions' new owner reads these records again.
            log.info("offsets not committed: rebalanced", topic=self._topic, error=str(exc))
        except KafkaError as exc:
            for tp, n in offsets.items():  # kept for the next try, unless newer ones came
                self._handled.setdefault(tp, n)
            log.warning("offsets not committed; retried", topic=self._topic, error=str(exc))

    async def stopping(self, subscriber: Any) -> None:
        """Before FastStream closes the consumer: no new poll is handled, the one in hand is
        waited for, and what was handled is committed, so a graceful restart repeats nothing."""
        subscriber.running = False
        with suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_SECONDS):
                await self._idle.wait()
        if subscriber.consumer is not None and self._handled:
            try:
                await self.commit(subscriber.consumer)
            except Exception as exc:  # what was not committed comes again after the restart
                log.info("offsets not committed on stop", topic=self._topic, error=repr(exc))


def rewind(consumer: Any, batch: Sequence[Any]) -> None:
    """Each partition of a poll back to its earliest record: none of them counts as read."""
    earliest: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
    for tp, offset in earliest.items():
        consumer.seek(tp, offset)


def commit_by_interval(subscriber: Any, offsets: HandledOffsets) -> None:
    """Poll and stop `subscriber` (a FastStream Kafka subscriber) through `offsets`."""
    original_stop = subscriber.stop

    async def stop(_self: Any) -> None:
        await offsets.stopping(subscriber)
        await original_stop()

    setattr(subscriber, "get_msg", MethodType(offsets.poll, subscriber))  # noqa: B010
    setattr(subscriber, "stop", MethodType(stop, subscriber))  # noqa: B010
