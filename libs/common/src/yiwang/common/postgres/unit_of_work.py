"""The unit of work: one database transaction holding state changes, inbox and outbox.

Handlers write their effects, mark the consumed event as handled (inbox) and queue the
events they raise (outbox) through one UnitOfWork, so all of it commits or none does.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

import asyncpg
from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import Event
from yiwang.common.telemetry import current_traceparent


class DatabaseRefused(ConnectionError):
    """PostgreSQL refused a new connection of the pool: an outage (an OSError), waited out."""


class UnitOfWork(abc.ABC):
    """What handlers see. Fakes for unit tests subclass it."""

    emitted: list[tuple[str, Envelope[Event]]]

    @abc.abstractmethod
    async def __aenter__(self) -> Self: ...

    @abc.abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @abc.abstractmethod
    async def first_delivery(self, *, consumer: str, event_id: str) -> bool:
        """Record (consumer, event_id) in the inbox; False if it was already handled."""

    @abc.abstractmethod
    async def emit(self, payload: Event, *, topic: str) -> Envelope[Event]:
        """Queue an event in the outbox; it is published after the transaction commits."""

    async def first_deliveries(self, *, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Record many in the inbox at once; the ids not handled before (each once)."""
        fresh: set[str] = set()
        for event_id in dict.fromkeys(event_ids):
            if await self.first_delivery(consumer=consumer, event_id=event_id):
                fresh.add(event_id)
        return fresh


class PostgresUnitOfWork(UnitOfWork):
    def __init__(
        self, pool: asyncpg.Pool, *, source: str, clock: Clock, topic_prefix: str = ""
    ) -> None:
        self._pool = pool
        self._topic_prefix = topic_prefix
        self._source = source
        self._clock = clock
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._tx: asyncpg.transaction.Transaction | None = None
        self._outbox_rows: list[tuple[str, bytes, bytes, str]] = []
        self.emitted = []

    @property
    def connection(self) -> asyncpg.pool.PoolConnectionProxy:
        if self._conn is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        try:
            conn = await self._pool.acquire()
        except asyncpg.PostgresError as exc:
            # Refused while connecting (the database does not accept connections now, a
            # login or database being reconfigured): the server is away for us, an outage.
            raise DatabaseRefused(str(exc) or type(exc).__name__) from exc
        try:
            tx = conn.transaction()
            await tx.start()
        except BaseException:
            # __aexit__ does not run when entering failed: without this, every BEGIN the
            # database dropped (a restart, a failover) kept a pool connection for good, and
            # the pool ran dry. Releasing a broken connection terminates it; the error that
            # matters is the one raised here.
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
            raise
        self._conn, self._tx = conn, tx
        self._outbox_rows = []
        self.emitted = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is None or self._tx is None:
            raise RuntimeError("UnitOfWork exited without entering")
        try:
            if exc_type is None:
                await self._write_outbox()
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
            self._conn = None
            self._tx = None

    async def first_delivery(self, *, consumer: str, event_id: str) -> bool:
        inserted = await self.connection.fetchval(
            "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            event_id,
        )
        return bool(inserted)

    async def first_deliveries(self, *, consumer: str, event_ids: Sequence[str]) -> set[str]:
        rows = await self.connection.fetch(
            "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            list(dict.fromkeys(event_ids)),
        )
        return {row["event_id"] for row in rows}

    async def emit(self, payload: Event, *, topic: str) -> Envelope[Event]:
        envelope: Envelope[Event] = Envelope(
            payload=payload,
            source=self._source,
            time=self._clock.now(),
            traceparent=current_traceparent(),
        )
        record = encode(envelope, topic=self._topic_prefix + topic)
        if self._conn is None:
            raise RuntimeError("UnitOfWork.emit used outside 'async with'")
        self._outbox_rows.append(
            (
                record.topic,
                record.key,
                record.value,
                json.dumps([[k, v.decode()] for k, v in record.headers]),
            )
        )
        self.emitted.append((topic, envelope))
        return envelope

    async def _write_outbox(self) -> None:
        """Every event of the transaction in one statement, in emission order, at commit:
        one round trip however many a batch raised."""
        if not self._outbox_rows:
            return
        topics, keys, values, headers = zip(*self._outbox_rows, strict=True)
        await self.connection.execute(
            "INSERT INTO outbox (topic, key, value, headers)"
            " SELECT e.topic, e.key, e.value, e.headers FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])"
            " WITH ORDINALITY AS e(topic, key, value, headers, n) ORDER BY n",
            list(topics),
            list(keys),
            list(values),
            list(headers),
        )
        self._outbox_rows = []


U = TypeVar("U", bound=PostgresUnitOfWork)


class UnitOfWorkFactory(Generic[U]):
    """Makes a service's own unit of work, one per use-case call, on the service's pool.

    The pool is asked for at each call: it opens in the service's lifespan, after wiring.
    """

    def __init__(
        self,
        kind: type[U],
        *,
        pool: Callable[[], asyncpg.Pool],
        source: str,
        clock: Clock,
        topic_prefix: str = "",
    ) -> None:
        self._kind = kind
        self._pool = pool
        self._source = source
        self._clock = clock
        self._topic_prefix = topic_prefix

    def __call__(self) -> U:
        return self._kind(
            self._pool(), source=self._source, clock=self._clock, topic_prefix=self._topic_prefix
        )
