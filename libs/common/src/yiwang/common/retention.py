"""Retention: bookkeeping rows are deleted once nothing can need them, in bounded batches,
off the hot path (a supervised background job), and counted.

What each row is for sets how long it is kept:
- the inbox remembers which events a consumer applied, so a redelivery does nothing; Kafka
  can redeliver a record only while the topic keeps it, so a service's inbox is kept for
  the longest retention among the topics it consumes (30 days; 400 where it consumes
  case.lifecycle.v1), plus a grace period;
- a service adds its own (`Wiring.retained`): intake's idempotency keys (as long as its
  submission topic), department-dispatch's reply rejections (as long as dept.replies.v1),
  oversight's and mediation's fired timers.

The cut-off is the service's clock (demo time runs faster; tests move it forward).
Settings: YIWANG_RETENTION_GRACE_DAYS (7), YIWANG_RETENTION_EVERY_SECONDS (3600),
YIWANG_RETENTION_BATCH (1000 rows per statement).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from prometheus_client import Counter, Gauge
from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.common.kafka_acls import ACCESS
from yiwang.common.logs import get_logger
from yiwang.common.topics import TOPICS

log = get_logger(__name__)

PRUNED = Counter(
    "yiwang_retention_pruned_rows_total",
    "Bookkeeping rows deleted after their retention (inbox, idempotency keys, fired timers...)",
    ["service", "table"],
)
LAST_RUN = Gauge(
    "yiwang_retention_last_run_timestamp_seconds",
    "When the retention job last finished a full pass (Unix time)",
    ["service"],
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Retained:
    """Rows of `table` whose `column` is older than `days` may go (and `condition` holds)."""

    table: str
    column: str
    days: int
    condition: str = ""  # e.g. "fired_at IS NOT NULL": SQL, written in code, never input

    def __post_init__(self) -> None:
        if not (_IDENTIFIER.match(self.table) and _IDENTIFIER.match(self.column)):
            raise ValueError(f"not a plain identifier: {self.table}.{self.column}")
        if self.days < 1:
            raise ValueError(f"{self.table}: retention must be at least a day, not {self.days}")


def topic_retention_days(topic: str) -> int:
    return next(t.retention_days for t in TOPICS if t.name == topic)


def inbox_retention_days(service: str) -> int:
    """The longest retention among the topics `service` consumes: a record older than that
    cannot be delivered again, so its inbox row has done its work."""
    consumed = [t for t, access in ACCESS.items() if service in access.consumers]
    return max((topic_retention_days(t) for t in consumed), default=30)


def inbox_rule(service: str, *, grace_days: int) -> Retained:
    return Retained("inbox", "received_at", inbox_retention_days(service) + grace_days)


class Pruner:
    """Deletes expired rows of each rule, `batch` at a time."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        service: str,
        rules: Sequence[Retained],
        clock: Clock,
        batch: int = 1000,
    ) -> None:
        self._pool = pool
        self._service = service
        self._rules = list(rules)
        self._clock = clock
        self._batch = batch
        for rule in self._rules:
            PRUNED.labels(service, rule.table)  # the series exist from the start, at 0

    async def prune_once(self) -> dict[str, int]:
        """One batch per table: the rows each deleted."""
        now = self._clock.now()
        deleted: dict[str, int] = {}
        async with self._pool.acquire() as conn:
            for rule in self._rules:
                cutoff = now - timedelta(days=rule.days)
                extra = f" AND ({rule.condition})" if rule.condition else ""
                # ctid: one bounded statement, whatever the table's key.
                status = await conn.execute(
                    f"DELETE FROM {rule.table} WHERE ctid IN (SELECT ctid FROM {rule.table}"
                    f" WHERE {rule.column} < $1{extra} LIMIT {int(self._batch)})",
                    cutoff,
                )
                count = int(status.split()[-1])
                deleted[rule.table] = count
                if count:
                    PRUNED.labels(self._service, rule.table).inc(count)
        return deleted

    async def tick(self) -> bool:
        """For `jobs.every`: True while a table had a full batch (more is waiting)."""
        deleted = await self.prune_once()
        more = any(count >= self._batch for count in deleted.values())
        if any(deleted.values()):
            log.info("retention pruned rows", deleted=deleted)
        if not more:
            LAST_RUN.labels(self._service).set(time.time())
        return more

    def job(self, *, every_seconds: float) -> Job:
        # A first pass a minute after start: not in the start-up rush.
        return every("retention", every_seconds, self.tick, first_delay=min(60.0, every_seconds))
