"""Offsets committed by the interval: only handled records' offsets, at most once per
interval while records flow, at once on an empty poll, and on stop after the poll in hand."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError
from subscriber_fakes import Record
from yiwang.common import offsets as offsets_module
from yiwang.common.offsets import HandledOffsets, commit_by_interval, rewind

TOPIC = "case.received.v1"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Consumer(AIOKafkaConsumer):  # type: ignore[misc]
    """Polls what it is given, one list per poll, and keeps what it was asked to commit."""

    def __init__(self, *polls: list[Record], assigned: set[TopicPartition] | None = None) -> None:
        super().__init__(bootstrap_servers="unused:9092")
        self._closed = True  # never started: nothing to close
        self.polls = list(polls)
        self.assigned = assigned if assigned is not None else {P0, P1}
        self.commits: list[dict[TopicPartition, int]] = []
        self.sought: dict[TopicPartition, int] = {}
        self.fail_with: Exception | None = None

    async def getmany(self, *_: Any, **__: Any) -> dict[TopicPartition, list[Any]]:
        records = self.polls.pop(0) if self.polls else []
        polled: dict[TopicPartition, list[Any]] = {}
        for r in records:
            polled.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return polled

    async def commit(self, offsets: Any = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.commits.append(dict(offsets))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought[partition] = offset


class Subscriber:
    """What `commit_by_interval` uses of a FastStream subscriber."""

    batch_timeout_ms = 500
    max_records = 500

    def __init__(self, consumer: Consumer) -> None:
        self.consumer: Consumer | None = consumer
        self.running = True
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def record(partition: int, offset: int) -> Record:
    return Record(topic=TOPIC, partition=partition, offset=offset, key=b"k", value=b"{}")


def handled() -> HandledOffsets:
    return HandledOffsets(topic=TOPIC)


async def test_a_poll_handled_is_committed_on_the_next_empty_poll_up_to_its_last_records() -> None:
    batch = [record(0, 5), record(0, 6), record(1, 9)]
    consumer, offsets = Consumer(batch, []), handled()
    assert await offsets.poll(Subscriber(consumer), consumer) == tuple(batch)
    offsets.begin()
    offsets.done(batch)
    assert consumer.commits == []  # not per poll
    assert await offsets.poll(Subscriber(consumer), consumer) == ()
    assert consumer.commits == [{P0: 7, P1: 10}]


async def test_while_records_flow_offsets_are_committed_at_most_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    polls = [[record(0, n)] for n in range(5)]
    consumer, offsets = Consumer(*polls), handled()
    monkeypatch.setattr(offsets_module, "COMMIT_INTERVAL_SECONDS", 3600.0)
    for _ in range(5):
        [r] = await offsets.poll(Subscriber(consumer), consumer)
        offsets.done([r])
    assert consumer.commits == []
    monkeypatch.setattr(offsets_module, "COMMIT_INTERVAL_SECONDS", 0.0)
    await offsets.poll(Subscriber(consumer), consumer)
    assert consumer.commits == [{P0: 5}]


async def test_a_stopped_record_is_committed_as_its_own_offset_so_it_comes_again() -> None:
    batch = [record(0, 5), record(0, 6), record(0, 7), record(1, 3)]
    consumer, offsets = Consumer(), handled()
    offsets.done(batch, stopped_at=[batch[1]])
    await offsets.commit(consumer)
    assert consumer.commits == [{P0: 6, P1: 4}]


async def test_only_assigned_partitions_are_committed_and_a_rebalance_is_no_error() -> None:
    consumer, offsets = Consumer(assigned={P1}), handled()
    offsets.done([record(0, 1), record(1, 1)])
    await offsets.commit(consumer)
    assert consumer.commits == [{P1: 2}]
    offsets.done([record(1, 2)])
    consumer.fail_with = CommitFailedError("rebalanced")
    await offsets.commit(consumer)  # the new owner reads them again
    consumer.fail_with = None
    await offsets.commit(consumer)
    assert consumer.commits == [{P1: 2}], "dropped: they are no longer this consumer's"


async def test_offsets_not_committed_with_the_broker_away_are_kept_for_the_next_try() -> None:
    consumer, offsets = Consumer(), handled()
    offsets.done([record(0, 1)])
    consumer.fail_with = KafkaConnectionError("broker away")
    await offsets.commit(consumer)
    consumer.fail_with = None
    await offsets.commit(consumer)
    assert consumer.commits == [{P0: 2}]


async def test_a_stopping_subscriber_waits_for_the_poll_in_hand_then_commits_it() -> None:
    consumer, offsets = Consumer(), handled()
    subscriber = Subscriber(consumer)
    commit_by_interval(subscriber, offsets)
    offsets.begin()  # a poll is being handled

    async def finish_handling() -> None:
        await asyncio.sleep(0.05)
        assert subscriber.running is False, "no new poll is taken meanwhile"
        offsets.done([record(0, 41)])

    finishing = asyncio.create_task(finish_handling())
    await subscriber.stop()
    await finishing
    assert consumer.commits == [{P0: 42}]
    assert subscriber.stopped, "then FastStream's own stop"


async def test_a_poll_whose_handling_raised_is_rewound_to_each_partitions_first_record() -> None:
    consumer = Consumer()
    rewind(consumer, [record(0, 8), record(0, 9), record(1, 4), record(1, 5)])
    assert consumer.sought == {P0: 8, P1: 4}
