"""Which records of a poll go to a batch handler at once: all of them when one handler
takes every type in the poll (oversight's timeline takes six), none when two would, and
those of the topics without records handled one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from subscriber_fakes import Record, a_case_received, record_handler
from yiwang.common.case_metrics import counting_batched_transitions
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseReceived, CaseStateChanged, Event
from yiwang.common.states import CaseState
from yiwang.common.subscriber import BatchEventHandler, _RecordHandler


def record(payload: Event, offset: int) -> Record:
    encoded = encode(Envelope(payload=payload, source="/t"), topic="mixed.v1")
    return Record(encoded.topic, 0, offset, encoded.key, encoded.value, encoded.headers)


def a_state_change() -> CaseStateChanged:
    return CaseStateChanged(
        case_id="c1",
        from_state=CaseState.RECEIVED,
        to_state=CaseState.ROUTED,
        actor="grid-routing",
        at=datetime(2026, 3, 2, 1, tzinfo=UTC),
    )


def handler_with(batched: dict[str, BatchEventHandler]) -> _RecordHandler:
    return record_handler(topic="mixed.v1", batched=batched)


async def test_one_handler_of_two_types_takes_a_mixed_poll_at_once() -> None:
    calls: list[list[str]] = []

    async def timeline(envelopes: Sequence[Envelope[Any]]) -> None:
        calls.append([e.type for e in envelopes])

    wrapped = counting_batched_transitions(
        {CaseReceived: timeline, CaseStateChanged: timeline}, service="test"
    )
    records = handler_with({cls.event_type: h for cls, h in wrapped.items()})
    poll = [record(a_case_received(), 1), record(a_state_change(), 2)]
    assert await records.handle_batch(poll) == []
    assert calls == [[CaseReceived.event_type, CaseStateChanged.event_type]]


async def test_two_handlers_leave_a_mixed_poll_to_the_ordered_path() -> None:
    calls: list[int] = []

    async def one(envelopes: Sequence[Envelope[Any]]) -> None:
        calls.append(len(envelopes))

    async def other(envelopes: Sequence[Envelope[Any]]) -> None:
        calls.append(len(envelopes))

    records = handler_with({CaseReceived.event_type: one, CaseStateChanged.event_type: other})
    poll = [record(a_case_received(), 1), record(a_state_change(), 2)]
    assert await records.handle_batch(poll) == poll
    assert calls == []


async def test_a_topic_handled_one_at_a_time_leaves_the_others_batched() -> None:
    """One consumer of several topics: a topic whose records include a type handled one
    at a time keeps its order on that path, and the other topics' records are still
    handled as one batch (they have no order against it)."""
    batches: list[int] = []

    async def on_received(envelopes: Sequence[Envelope[Any]]) -> None:
        batches.append(len(envelopes))

    async def on_state_changed(envelope: Envelope[Any]) -> None:
        raise AssertionError("left to the caller")

    def on(topic: str, payload: Event, offset: int) -> Record:
        encoded = encode(Envelope(payload=payload, source="/t"), topic=topic)
        return Record(topic, 0, offset, encoded.key, encoded.value, encoded.headers)

    records = record_handler(
        topic="received.v1,lifecycle.v1",
        by_type={CaseStateChanged.event_type: on_state_changed},
        batched={CaseReceived.event_type: on_received},
    )
    ordered = [on("lifecycle.v1", a_state_change(), 3), on("lifecycle.v1", a_case_received(), 4)]
    poll = [
        on("received.v1", a_case_received(), 1),
        ordered[0],
        on("received.v1", a_case_received(), 2),
        ordered[1],
    ]
    assert await records.handle_batch(poll) == ordered
    assert batches == [2]


async def test_records_of_two_topics_at_the_same_position_are_told_apart() -> None:
    """One consumer of several topics: partition 0, offset 7 of one topic is not that of
    the other. A failing record holds back its own topic's partition only, and is retried
    by its own (topic, partition, offset)."""
    from yiwang.common.subscriber import _handle_poll

    handled: list[str] = []

    async def on_received(envelope: Envelope[Any]) -> None:
        if envelope.id == failing.id:
            raise ValueError("not this one")
        handled.append(envelope.id)

    failing = Envelope(payload=a_case_received(), source="/t")
    passing = Envelope(payload=a_case_received(), source="/t")
    one, other = encode(failing, topic="a.v1"), encode(passing, topic="b.v1")
    records = record_handler(topic="a.v1,b.v1", by_type={CaseReceived.event_type: on_received})
    poll = (
        Record("a.v1", 0, 7, one.key, one.value, one.headers),
        Record("b.v1", 0, 7, other.key, other.value, other.headers),
    )
    stopped_at = await _handle_poll(records, poll)
    assert [r.topic for r in stopped_at] == ["a.v1"]
    assert handled == [passing.id]
    assert set(records.failures) == {("a.v1", 0, 7)}
