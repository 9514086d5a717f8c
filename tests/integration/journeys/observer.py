"""What a county platform or a department sees on Kafka: every record on this county's
topics, read from the start in the background and kept for the scenarios to look at."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from support import kafka_options
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, KafkaRecord, decode, encode
from yiwang.common.events import DepartmentReplied, Event
from yiwang.common.producer import EventProducer
from yiwang.common.signatures import signature_headers
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_RECEIVED,
    CASE_REOPENED,
    CASE_RETURNED,
    CASE_ROUTED,
    DEPT_REPLIES,
    DISPATCH_WHISTLES,
    GRID_TASKS,
    INTAKE_REJECTIONS,
    MEDIATION_EVENTS,
    OVERSIGHT_ALERTS,
    department_topic,
)

WATCHED = (
    CASE_RECEIVED,
    CASE_REOPENED,
    CASE_ROUTED,
    CASE_RETURNED,
    CASE_LIFECYCLE,
    DISPATCH_WHISTLES,
    GRID_TASKS,
    MEDIATION_EVENTS,
    OVERSIGHT_ALERTS,
    INTAKE_REJECTIONS,
    *(department_topic(d) for d in Department),
)


class Observer:
    """Reads the county's topics into memory; `wait` polls that memory, not Kafka."""

    def __init__(self, kafka: str, prefix: str) -> None:
        self.kafka, self.prefix = kafka, prefix
        self.seen: dict[str, list[Envelope[Event]]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(**kafka_options(self.kafka), enable_auto_commit=False)
        await consumer.start()
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(self.prefix + t, p)
            for t in WATCHED
            for p in consumer.partitions_for_topic(self.prefix + t) or {0}
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for tp, records in batch.items():
                topic = tp.topic.removeprefix(self.prefix)
                for record in records:
                    with contextlib.suppress(Exception):  # a foreign record is not ours to judge
                        self.seen[topic].append(decode(record.value, record.headers))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def events(self, topic: str, case_id: str) -> list[Any]:
        """The payloads on `topic` (unprefixed) for one case, in arrival order."""
        return [e.payload for e in self.seen[topic] if e.subject == case_id]

    def traces(self, topic: str, case_id: str) -> set[str | None]:
        """The trace ids the case's records on `topic` carry (None: a record without)."""
        return {
            e.traceparent.split("-")[1] if e.traceparent else None
            for e in self.seen[topic]
            if e.subject == case_id
        }

    async def wait(
        self,
        topic: str,
        case_id: str,
        until: Callable[[list[Any]], bool] = bool,
        *,
        within: float = 30,
        what: str = "",
    ) -> list[Any]:
        """The case's payloads on `topic` once `until(payloads)` holds; fails after `within`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = self.events(topic, case_id)
            if until(found):
                return found
            if loop.time() > deadline:
                shown = [f"{type(p).__name__}{_brief(p)}" for p in found]
                raise AssertionError(
                    f"{what or topic}: not seen for case {case_id} within {within}s; "
                    f"{topic} had {shown}"
                )
            await asyncio.sleep(0.1)

    async def settle(self, seconds: float = 1.5) -> None:
        """Give an unexpected extra record the time to show up before counting."""
        await asyncio.sleep(seconds)


def _brief(payload: Any) -> str:
    fields = ("from_state", "to_state", "kind", "role", "department", "command_level", "step")
    shown = {f: getattr(payload, f) for f in fields if getattr(payload, f, None) is not None}
    return str(shown) if shown else ""


class Wire(Observer):
    """The observer, plus a producer for what county platforms and departments send."""

    def __init__(self, kafka: str, prefix: str) -> None:
        super().__init__(kafka, prefix)
        self.producer = EventProducer(bootstrap_servers=kafka, client_id="journeys")

    async def start(self) -> None:
        await self.producer.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.producer.stop()

    async def publish(
        self, topic: str, payload: Event, *, source: str, signer: str = "", credential: str = ""
    ) -> None:
        """A record as a county platform sends it; signed by `signer` when a credential is
        given (platforms sign their submissions, docs/security.md)."""
        record = encode(Envelope(payload=payload, source=source), topic=self.prefix + topic)
        if credential:
            record = signed(record, signer=signer, credential=credential)
        await self.producer.send_records([record])

    async def reply(self, reply: DepartmentReplied, *, department: str, secret: str) -> None:
        """A department's reply on dept.replies.v1, signed as docs/department-dispatch.md
        says (value, key, ce_id and the time, with its `<key id>:<secret>` credential)."""
        record = encode(
            Envelope(payload=reply, source=f"/departments/{department}"),
            topic=self.prefix + DEPT_REPLIES,
        )
        await self.producer.send_records([signed(record, signer=department, credential=secret)])


def signed(record: KafkaRecord, *, signer: str, credential: str) -> KafkaRecord:
    """A record with the signature headers of docs/security.md ("Signed Kafka records")."""
    key_id, _, secret = credential.partition(":")
    ce_id = dict(record.headers)["ce_id"].decode()
    headers = signature_headers(
        signer=signer, key_id=key_id, secret=secret, value=record.value, key=record.key,
        ce_id=ce_id, at=datetime.now(UTC),
    )  # fmt: skip
    return KafkaRecord(record.topic, record.key, record.value, [*record.headers, *headers])
