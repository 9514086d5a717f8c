"""Dead letters read back and replayed (死信重放): what the operator's CLI does.

A dead letter is the original record (key, value, CloudEvents headers) with the reason
in `dlq_*` headers (`yiwang.common.dead_letters`). Once the cause is fixed, it goes back
to its origin topic unchanged: the same key (so the same partition and order as the
case's other events), the same value and the same `ce_id`, so every consumer group's
inbox absorbs it where it was already applied and applies it where it was not. The
`dlq_*` headers are dropped and two markers added, so a record that fails again shows in
the dead letters as a replay:

    yiwang-replayed-from   <dead-letter topic>:<partition>:<offset>
    yiwang-replayed-at     RFC 3339 UTC

What was replayed is recorded in the replay log, the topic `yiwang.dead-letter-replays.v1`
(under the topic prefix; 1 partition, kept as long as dead letters, 90 days): one JSON
line per replayed record, keyed by its dead-letter position. It is read before each
replay, so the same dead letter is not replayed twice unless the operator says so
(`again=True`): replaying twice is harmless (the inboxes absorb it) but usually a mistake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from yiwang.common.envelope import KafkaRecord, header_map
from yiwang.common.kafka_security import KafkaSecurity
from yiwang.common.producer import EventProducer
from yiwang.common.signatures import MAX_AGE, SIGNATURE_HEADER, SIGNED_AT_HEADER
from yiwang.common.topics import DAY_MS, DEAD_LETTER_RETENTION_DAYS, dead_letter_topic

REPLAY_LOG = "yiwang.dead-letter-replays.v1"
REPLAYED_FROM = "yiwang-replayed-from"
REPLAYED_AT = "yiwang-replayed-at"
DEAD_LETTER_SUFFIX = ".dlq"


class DeadLettersRefused(Exception):
    """What the operator asked cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a `.dlq` topic, as it was dead-lettered."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def attributes(self) -> dict[str, str]:
        return header_map(self.headers)

    @property
    def ce_id(self) -> str:
        return self.attributes.get("ce_id", "")

    @property
    def error(self) -> str:
        return self.attributes.get("dlq_error", "")

    @property
    def origin_topic(self) -> str:
        """Where it came from: its `dlq_origin_topic` header, else the `.dlq` topic's origin."""
        return self.attributes.get("dlq_origin_topic") or self.topic.removesuffix(
            DEAD_LETTER_SUFFIX
        )

    def stale_signature(self, now: datetime) -> bool:
        """A record signed by a department or platform whose signature is older than the
        consumers accept: replayed, it is refused as stale; the sender must send it anew."""
        attrs = self.attributes
        if SIGNATURE_HEADER not in attrs:
            return False
        try:
            signed_at = datetime.fromisoformat(
                attrs.get(SIGNED_AT_HEADER, "").replace("Z", "+00:00")
            )
        except ValueError:
            return True
        if signed_at.tzinfo is None:
            signed_at = signed_at.replace(tzinfo=UTC)
        return now - signed_at > MAX_AGE


@dataclass(frozen=True, slots=True)
class Replay:
    """One line of the replay log: which dead letter went back where, when, by whom."""

    dead_letter_topic: str
    partition: int
    offset: int
    ce_id: str
    origin_topic: str
    replayed_at: str
    operator: str
    note: str = ""

    @property
    def position(self) -> str:
        return f"{self.dead_letter_topic}:{self.partition}:{self.offset}"

    def encode(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, value: bytes) -> Replay | None:
        """None for a line this version cannot read (the log outlives versions)."""
        try:
            fields = json.loads(value)
            return cls(**{k: fields[k] for k in cls.__dataclass_fields__ if k in fields})
        except (ValueError, TypeError):
            return None


def dead_letter_topic_of(name: str, *, prefix: str = "") -> str:
    """The `.dlq` topic for what the operator typed: an origin topic or its `.dlq` topic,
    with or without the topic prefix."""
    if prefix and not name.startswith(prefix):
        name = prefix + name
    return name if name.endswith(DEAD_LETTER_SUFFIX) else dead_letter_topic(name)


def select(
    letters: Iterable[DeadLetter],
    *,
    offsets: Collection[tuple[int, int]] = (),
    ce_ids: Collection[str] = (),
    since: datetime | None = None,
) -> list[DeadLetter]:
    """The dead letters at these (partition, offset) positions or with these `ce_id`s, or
    dead-lettered at or after `since`; refused when a named one is not there."""
    letters = list(letters)
    if not offsets and not ce_ids and since is None:
        raise DeadLettersRefused("say which records: offsets, ce_ids, a time, or all")
    chosen = [
        d
        for d in letters
        if (d.partition, d.offset) in offsets
        or d.ce_id in ce_ids
        or (since is not None and d.timestamp >= since)
    ]
    missing = [
        f"{p}:{o}"
        for p, o in offsets
        if not any(d.partition == p and d.offset == o for d in letters)
    ]
    missing += [f"ce_id {c}" for c in ce_ids if not any(d.ce_id == c for d in letters)]
    if missing:
        raise DeadLettersRefused(f"no such dead letter: {', '.join(missing)}")
    return chosen


def already_replayed(letters: Iterable[DeadLetter], log: Iterable[Replay]) -> dict[str, Replay]:
    """The dead letters among `letters` the log says were replayed: position -> last replay."""
    wanted = {d.position for d in letters}
    return {r.position: r for r in log if r.position in wanted}


def replayed_record(letter: DeadLetter, *, at: datetime) -> KafkaRecord:
    """The dead letter as it goes back to its origin: key, value and CloudEvents headers as
    they came (the same `ce_id`), the dead-letter headers and earlier markers dropped."""
    ours = (REPLAYED_FROM, REPLAYED_AT)
    headers = [(k, v) for k, v in letter.headers if not k.startswith("dlq_") and k not in ours]
    headers += [
        (REPLAYED_FROM, letter.position.encode()),
        (REPLAYED_AT, at.astimezone(UTC).isoformat().encode()),
    ]
    return KafkaRecord(letter.origin_topic, letter.key, letter.value, headers)


class DeadLetterDesk:
    """Reads `.dlq` topics and the replay log, and replays, with one Kafka client set."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        security: KafkaSecurity,
        prefix: str = "",
        replication_factor: int = 1,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._replication_factor = replication_factor
        self.replay_log = prefix + REPLAY_LOG

    def _options(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self._bootstrap,
            "client_id": "yiwang-dead-letters",
            **self._security.client_options(),
        }

    async def read(self, topic: str, *, since: datetime | None = None) -> list[DeadLetter]:
        """Every record of `topic` there is now (from `since`, when given), in offset order.
        No consumer group: reading changes nothing on the broker."""
        consumer = AIOKafkaConsumer(**self._options(), group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await _partitions(consumer, topic)
            if partitions is None:
                return []
            ends = await consumer.end_offsets(partitions)
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            if since is not None:
                found = await consumer.offsets_for_times(
                    {tp: int(since.timestamp() * 1000) for tp in partitions}
                )
                starts = {tp: (found[tp].offset if found[tp] else ends[tp]) for tp in partitions}
            for tp in partitions:
                consumer.seek(tp, starts[tp])
            letters: list[DeadLetter] = []
            pending = {tp for tp in partitions if starts[tp] < ends[tp]}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in batch.items():
                    letters += [_letter(r) for r in records if r.offset < ends[tp]]
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
            return sorted(letters, key=lambda d: (d.partition, d.offset))
        finally:
            await consumer.stop()

    async def history(self, topic: str | None = None) -> list[Replay]:
        """The replay log, oldest first; with `topic`, only that `.dlq` topic's replays."""
        lines = [Replay.decode(d.value) for d in await self.read(self.replay_log)]
        return [
            r for r in lines if r is not None and (topic is None or r.dead_letter_topic == topic)
        ]

    async def replay(
        self, letters: Sequence[DeadLetter], *, operator: str, note: str = "", again: bool = False
    ) -> list[Replay]:
        """Send the dead letters back to their origin topics, then record them in the log.
        Refused, and nothing sent, if one was replayed before (unless `again`)."""
        if not letters:
            return []
        topic = letters[0].topic
        if not again:
            before = already_replayed(letters, await self.history(topic))
            if before:
                listed = "; ".join(
                    f"{p} at {r.replayed_at} by {r.operator}" for p, r in sorted(before.items())
                )
                raise DeadLettersRefused(
                    f"already replayed: {listed}; replay them again only on purpose (--again)"
                )
        await self._ensure_replay_log()
        now = datetime.now(UTC)
        replays = [
            Replay(
                dead_letter_topic=d.topic,
                partition=d.partition,
                offset=d.offset,
                ce_id=d.ce_id,
                origin_topic=d.origin_topic,
                replayed_at=now.isoformat(),
                operator=operator,
                note=note,
            )
            for d in letters
        ]
        producer = EventProducer(
            bootstrap_servers=self._bootstrap,
            client_id="yiwang-dead-letters",
            security=self._security,
        )
        await producer.start()
        try:
            # The records first, then the log: a replay cut short between them is replayed
            # again next time, which the inboxes absorb; one logged but not sent would be lost.
            await producer.send_records([replayed_record(d, at=now) for d in letters])
            await producer.send_records(
                [KafkaRecord(self.replay_log, r.position.encode(), r.encode(), []) for r in replays]
            )
        finally:
            await producer.stop()
        return replays

    async def _ensure_replay_log(self) -> None:
        admin = AIOKafkaAdminClient(**self._options())
        await admin.start()
        try:
            if self.replay_log in await admin.list_topics():
                return
            retention = {"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)}
            await admin.create_topics(
                [NewTopic(self.replay_log, 1, self._replication_factor, topic_configs=retention)]
            )
        finally:
            await admin.close()
        await asyncio.sleep(0.5)  # the new topic's leader is elected before the first send


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition] | None:
    if topic not in await consumer.topics():
        return None
    # topics() does not keep what it fetched; the client's own metadata learns the
    # partitions of topics nobody subscribed to only when told to refresh.
    await consumer._client.force_metadata_update()
    partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


def _letter(record: Any) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key or b"",
        value=record.value or b"",
        headers=tuple((k, v) for k, v in (record.headers or ())),
    )
