"""The outbox relay: publishes committed outbox rows with the idempotent producer.

One relay per schema is active at a time, which keeps events in commit order: the one
whose LISTEN connection holds the session advisory lock `outbox:<schema>` (taken once and
kept until that connection ends; the other replicas try again at each wake), or, without
a LISTEN connection, whichever takes the lock for one round. No transaction is open while the relay waits for
Kafka: the rows are read, sent, then deleted in statements of their own, so a broker that
is slow or away never holds back vacuum or keeps locks. A row sent is deleted (the topic
is the record of what was published). If the relay dies after publishing but before
deleting the rows, they are published again on restart with the same ce_id, and
consumers' inboxes absorb the repeat: nothing is lost and nothing visible is duplicated.

The relay is woken by NOTIFY on a LISTEN connection of its own, and polls as a fallback;
when that connection dies with the server it listens again on a new one. While it leads on
that connection, the rows it sent are deleted by the statement that reads the next batch
(one round trip a wake, not two), or after DELETE_AFTER_SECONDS without a wake, and when it
stops: a crash meanwhile sends them again, which the inboxes absorb, as above.

The backlog and age gauges are measured by a job of their own (`measure`, every few
seconds), apart from publishing: they keep moving while Kafka is away, which is when
`YiwangOutboxBacklog` must fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter

import asyncpg
from yiwang.common.envelope import KafkaRecord
from yiwang.common.faults import crash_point
from yiwang.common.jobs import Job, every
from yiwang.common.logs import get_logger
from yiwang.common.outages import is_outage
from yiwang.common.producer import EventProducer
from yiwang.common.telemetry import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED

log = get_logger(__name__)

GAUGE_SECONDS = 5.0
# Sent rows wait this long at most for the next batch's read to delete them.
DELETE_AFTER_SECONDS = 0.2


class OutboxRelay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        producer: EventProducer,
        service: str,
        schema: str,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._service = service
        self._schema = schema
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._channel = f"yiwang_outbox_{schema}"
        self._lock = f"outbox:{schema}"
        self._leading = False  # the LISTEN connection holds the relay's lock
        self._sent: list[int] = []  # published, not yet deleted

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events, holding the relay's lock for that
        round only; return how many were published."""
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lock):
                return 0  # another replica's relay is publishing
            try:
                return await self._publish_on(conn)
            finally:
                await self._unlock(conn)

    async def _publish_on(
        self, conn: asyncpg.pool.PoolConnectionProxy, *, delete_later: bool = False
    ) -> int:
        """One batch, on a connection that holds the relay's lock; with `delete_later`, its
        rows are deleted by the next batch's read (`_take`)."""
        rows = await self._take(conn)
        if not rows:
            return 0
        records = [
            KafkaRecord(
                topic=row["topic"],
                key=row["key"] or b"",
                value=row["value"],
                headers=[(k, v.encode()) for k, v in json.loads(row["headers"])],
            )
            for row in rows
        ]
        crash_point("outbox.before_publish")
        await self._producer.send_records(records)  # no transaction open meanwhile
        crash_point("outbox.after_publish")
        self._sent = [row["id"] for row in rows]
        if not delete_later:
            await self._delete_sent(conn)
        for topic, count in Counter(record.topic for record in records).items():
            OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
        return len(records)

    async def _take(self, conn: asyncpg.pool.PoolConnectionProxy) -> list[asyncpg.Record]:
        """The next batch, deleting the rows sent before it in the same statement."""
        if not self._sent:
            return await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
        # The DELETE's effect is not visible to the SELECT of its own statement: hence
        # the sent rows are left out by id.
        rows = await conn.fetch(
            "WITH sent AS (DELETE FROM outbox WHERE id = ANY($2::bigint[]))"
            " SELECT id, topic, key, value, headers FROM outbox"
            " WHERE NOT id = ANY($2::bigint[]) ORDER BY id LIMIT $1",
            self._batch_size,
            self._sent,
        )
        self._sent = []
        return rows

    async def _delete_sent(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        if self._sent:
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", self._sent)
            self._sent = []

    async def _unlock(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        """Release the lock; a connection that cannot is closed, which releases it too
        (pooled connections are not reset on release: a lock must never go back)."""
        try:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self._lock)
        except Exception:
            conn.terminate()

    async def run(self) -> None:
        """Publish until cancelled, woken by NOTIFY and, as a fallback, by polling."""
        listener: asyncpg.pool.PoolConnectionProxy | None = None
        try:
            while True:
                if listener is None or listener.is_closed():
                    # The LISTEN connection died with the server (a restart, a failover,
                    # a terminated backend): listen again on a new one, or, while the
                    # database is away, poll until it is back.
                    listener = await self._listen(listener)
                published = await self._cycle(listener)
                if published < self._batch_size:
                    self._wake.clear()
                    deleting = self._sent and self._leading  # else deleted when it leads again
                    wait = min(DELETE_AFTER_SECONDS, self._poll_seconds) if deleting else None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait or self._poll_seconds)
        finally:
            if listener is not None:
                try:
                    if self._leading and not listener.is_closed():
                        with contextlib.suppress(Exception):  # else they are sent again
                            await asyncio.wait_for(
                                self._delete_sent(listener), DELETE_AFTER_SECONDS * 5
                            )
                finally:  # also when cancelled again meanwhile: the lock must go back
                    await self._unlisten(listener)

    async def _listen(
        self, previous: asyncpg.pool.PoolConnectionProxy | None
    ) -> asyncpg.pool.PoolConnectionProxy | None:
        if previous is not None:
            await self._unlisten(previous)
            log.info("outbox relay: LISTEN connection lost; listening again", schema=self._schema)
        try:
            listener: asyncpg.pool.PoolConnectionProxy = await self._pool.acquire()
        except Exception as exc:
            if not is_outage(exc):
                raise
            return None
        try:
            await listener.add_listener(self._channel, self._on_notify)
            # Its loss wakes the relay, which listens again at once (not after a poll).
            listener.add_termination_listener(self._on_notify)
        except Exception as exc:
            await self._unlisten(listener)
            if not is_outage(exc):
                raise
            return None
        return listener

    async def _unlisten(self, listener: asyncpg.pool.PoolConnectionProxy) -> None:
        with contextlib.suppress(Exception):
            listener.remove_termination_listener(self._on_notify)
            await listener.remove_listener(self._channel, self._on_notify)
        if self._leading:
            self._leading = False
            await self._unlock(listener)
        with contextlib.suppress(Exception):  # a dead connection is terminated on release
            await self._pool.release(listener)

    async def _publish(self, listener: asyncpg.pool.PoolConnectionProxy | None) -> int:
        """While listening, the relay's lock is taken once on the LISTEN connection and
        kept (one replica leads until its connection ends; the others try at each wake):
        a round is then two statements, not four. Without that connection, per round."""
        if listener is None or listener.is_closed():
            self._leading = False
            return await self.publish_pending()
        if not self._leading:
            self._leading = bool(
                await listener.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lock)
            )
            if not self._leading:
                return 0  # another replica's relay leads
        return await self._publish_on(listener, delete_later=True)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _cycle(self, listener: asyncpg.pool.PoolConnectionProxy | None) -> int:
        try:
            published = await self._publish(listener)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox relay cycle failed; retrying", error=str(exc))
        except Exception as exc:  # Kafka errors: the rows stay, try again shortly
            log.warning("outbox publish failed; retrying", error=f"{type(exc).__name__}: {exc}")
        else:
            return published
        await asyncio.sleep(self._poll_seconds)
        return 0

    async def measure(self) -> None:
        """Set the backlog and age gauges from the table: needs the database only."""
        backlog = await self._pool.fetchrow(
            "SELECT count(*) AS n, EXTRACT(EPOCH FROM now() - min(created_at)) AS age FROM outbox"
        )
        OUTBOX_BACKLOG.labels(self._service).set(backlog["n"] if backlog else 0)
        OUTBOX_OLDEST_AGE.labels(self._service).set(float(backlog["age"] or 0) if backlog else 0)

    def gauges(self, *, seconds: float = GAUGE_SECONDS) -> Job:
        """The job that keeps the gauges current, whatever the broker does."""
        return every("outbox-gauges", seconds, self.measure)
