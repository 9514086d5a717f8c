"""Consumer lag per consumer group and topic, exported as a Prometheus gauge.

Each service polls its own subscriptions: the group's committed offsets (admin client)
against the topic's end offsets (a consumer without a group, so it joins nothing).
A partition the group never committed counts from the beginning of the log, because
subscribers start at `earliest`. Labels stay bounded: the topics come from the registry
and the groups are one per service and topic.

Every replica of a service reports the same group's lag: dashboards and alerts take
`max by (group, topic)`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge
from yiwang.common.kafka_security import KafkaSecurity, kafka_security
from yiwang.common.logs import get_logger

log = get_logger(__name__)

CONSUMER_LAG = Gauge(
    "yiwang_consumer_lag",
    "Records on a topic not yet committed by a consumer group, summed over partitions",
    ["service", "group", "topic"],
)
CONSUMER_LAG_POLLS = Counter(
    "yiwang_consumer_lag_polls_total",
    "Consumer lag polls, by outcome (ok, failed)",
    ["service", "outcome"],
)


def poll_seconds_from_env() -> float:
    """YIWANG_LAG_POLL_SECONDS (default 15, a Prometheus scrape interval)."""
    return float(os.environ.get("YIWANG_LAG_POLL_SECONDS", "15"))


@dataclass(frozen=True, slots=True)
class Subscription:
    group: str
    topic: str


def lag_of(
    *,
    partitions: Iterable[TopicPartition],
    committed: dict[TopicPartition, int],
    beginning: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
) -> int:
    """Sum over partitions of end minus committed (or minus the log start if none)."""
    total = 0
    for tp in partitions:
        position = committed.get(tp, -1)
        if position < 0:
            position = beginning.get(tp, 0)
        total += max(0, end.get(tp, 0) - position)
    return total


class ConsumerLagMonitor:
    """Polls the lag of a service's subscriptions every `every` seconds."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        service: str,
        subscriptions: list[Subscription],
        every: float | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._security = security if security is not None else kafka_security()
        self._service = service
        self._subscriptions = subscriptions  # the runtime's list: read at each poll
        self._every = every if every is not None else poll_seconds_from_env()

    async def poll(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        await consumer._client.force_metadata_update()
        for sub in list(self._subscriptions):
            ids = consumer.partitions_for_topic(sub.topic) or set()
            partitions = [TopicPartition(sub.topic, p) for p in sorted(ids)]
            if not partitions:
                continue
            offsets = await admin.list_consumer_group_offsets(sub.group, partitions=partitions)
            committed = {tp: meta.offset for tp, meta in offsets.items()}
            end = await consumer.end_offsets(partitions)
            beginning = await consumer.beginning_offsets(partitions)
            lag = lag_of(partitions=partitions, committed=committed, beginning=beginning, end=end)
            CONSUMER_LAG.labels(self._service, sub.group, sub.topic).set(lag)

    async def run(self) -> None:
        while True:
            try:
                await self._run_clients()
            except Exception as exc:  # the broker is away: start the clients again later
                CONSUMER_LAG_POLLS.labels(self._service, "failed").inc()
                log.warning("consumer lag monitor failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._every)

    async def _run_clients(self) -> None:
        client_id = f"yiwang-{self._service}-lag"
        options = {
            "bootstrap_servers": self._bootstrap_servers,
            "client_id": client_id,
            **self._security.client_options(),
        }
        admin = AIOKafkaAdminClient(**options)
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
        try:
            await admin.start()
            await consumer.start()
            while True:
                await self.poll(admin, consumer)
                CONSUMER_LAG_POLLS.labels(self._service, "ok").inc()
                await asyncio.sleep(self._every)
        finally:
            await consumer.stop()
            await admin.close()
