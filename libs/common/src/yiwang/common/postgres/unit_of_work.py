"""The unit of work: one database transaction holding state changes, inbox and outbox.

Handlers write their effects, mark the consumed event as handled (inbox) and queue the
events they raise (outbox) through one UnitOfWork, so all of it commits or none does.
"""

from __future__ import annotations

import abc
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import asyncpg
from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import Event
from yiwang.common.telemetry import current_traceparent

# A repository's write (statement, *args): the unit of work's `write`, or a connection's.
Write = Callable[..., Awaitable[Any]]


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

    async def first_deliveries_with_keys(
        self,
        *,
        consumer: str,
        event_ids: Sequence[str],
        keys_consumer: str,
        keys: Sequence[tuple[str, str]],
    ) -> tuple[set[str], set[str]]:
        """Record `event_ids` in the inbox, then, under `keys_consumer`, the key of each
        (event_id, key) whose event was recorded just now (a key an event carries, which
        must be used once, like a signed record's ce_id): the event ids and the keys not
        recorded before (each once). The two consumers differ."""
        _require_distinct_consumers(consumer, keys_consumer)
        fresh = await self.first_deliveries(consumer=consumer, event_ids=event_ids)
        carried = [key for event_id, key in keys if event_id in fresh]
        if not carried:
            return fresh, set()
        return fresh, await self.first_deliveries(consumer=keys_consumer, event_ids=carried)

    def defer_writes(self) -> None:  # noqa: B027 - a no-op unless there is a database
        """From here on, the repositories' writes wait for the commit and go with the
        events, in one statement: for a handler's last writes, which nothing later in the
        transaction reads. A unit without a database has nothing to defer."""


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
        self._writes: _Writes | None = None
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
        self._writes = _Writes(conn)
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
                try:
                    await self._write_at_commit()  # deferred writes' errors surface here
                except BaseException:
                    with contextlib.suppress(Exception):
                        await self._tx.rollback()
                    raise
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            # Cleared first, so that a failed release leaves no used-up state behind, and
            # closed, so that a `write` a repository kept past this use raises.
            conn, self._conn, self._tx = self._conn, None, None
            if self._writes is not None:
                self._writes.close()
            self._writes = None
            await self._pool.release(conn)

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

    async def first_deliveries_with_keys(
        self,
        *,
        consumer: str,
        event_ids: Sequence[str],
        keys_consumer: str,
        keys: Sequence[tuple[str, str]],
    ) -> tuple[set[str], set[str]]:
        """Both inbox inserts in one statement: one round trip, not two. (The consumers
        differ: two inserts of one statement must not write the same rows.)"""
        _require_distinct_consumers(consumer, keys_consumer)
        rows = await self.connection.fetch(
            "WITH recorded AS (INSERT INTO inbox (consumer, event_id)"
            " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id),"
            " keyed AS (INSERT INTO inbox (consumer, event_id)"
            " SELECT DISTINCT $3, k.key FROM unnest($4::text[], $5::text[]) AS k(event_id, key)"
            " JOIN recorded USING (event_id) ON CONFLICT DO NOTHING RETURNING event_id)"
            " SELECT false AS keyed, event_id FROM recorded"
            " UNION ALL SELECT true, event_id FROM keyed",
            consumer,
            list(dict.fromkeys(event_ids)),
            keys_consumer,
            [event_id for event_id, _ in keys],
            [key for _, key in keys],
        )
        fresh = {row["event_id"] for row in rows if not row["keyed"]}
        return fresh, {row["event_id"] for row in rows if row["keyed"]}

    def defer_writes(self) -> None:
        """The writes made through `write` from here on are sent with the outbox's rows at
        commit, as one statement (a data-modifying WITH): a handler's last writes and its
        events cost one round trip. They see the transaction as it was before all of them,
        so nothing may read them before the commit, and two of them must not write the
        same rows; an error they raise surfaces at the commit."""
        self._open_writes().deferring = True

    @property
    def write(self) -> Write:
        """A repository's write (INSERT, UPDATE or DELETE, no RETURNING): at once, or at
        commit after `defer_writes`. Repositories are handed it, and it does not hold the
        unit of work: see `_Writes`."""
        return self._open_writes().write

    def _open_writes(self) -> _Writes:
        if self._writes is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._writes

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

    async def _write_at_commit(self) -> None:
        """The deferred writes and every event of the transaction (in emission order) in
        one statement, at commit: one round trip however many a batch raised."""
        writes = self._open_writes().deferred
        if self._outbox_rows:
            topics, keys, values, headers = zip(*self._outbox_rows, strict=True)
            writes = [
                *writes,
                (OUTBOX_INSERT, (list(topics), list(keys), list(values), list(headers))),
            ]
        self._open_writes().deferred, self._outbox_rows = [], []
        if writes:
            statement, args = one_statement(writes)
            await self.connection.execute(statement, *args)


class _Writes:
    """A unit of work's writes, kept apart from it: the repositories hold `write`, and a
    unit holds its repositories. Were `write` the unit's own method, each unit would sit in
    a reference cycle, freed only by the cycle collector, which the services run seldom
    (service.py): a backlog's units, and every row and event they held, piled up between
    its passes, tens of MB in a flood."""

    __slots__ = ("connection", "deferred", "deferring")

    def __init__(self, connection: asyncpg.pool.PoolConnectionProxy) -> None:
        self.connection: asyncpg.pool.PoolConnectionProxy | None = connection
        self.deferring = False
        self.deferred: list[tuple[str, Sequence[Any]]] = []

    def close(self) -> None:
        self.connection = None

    async def write(self, statement: str, *args: Any) -> None:
        if self.connection is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        if not self.deferring:
            await self.connection.execute(statement, *args)
            return
        if not _WAITS_FOR_COMMIT.match(statement):
            raise ValueError(f"not a write that can wait for the commit: {statement[:60]!r}")
        self.deferred.append((statement, args))


def _require_distinct_consumers(consumer: str, keys_consumer: str) -> None:
    """A caller's mistake, not a rule of the domain: hence a plain ValueError."""
    if consumer == keys_consumer:
        raise ValueError(f"an event's keys need an inbox consumer of their own, not {consumer!r}")


OUTBOX_INSERT = (
    "INSERT INTO outbox (topic, key, value, headers)"
    " SELECT e.topic, e.key, e.value, e.headers"
    " FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])"
    " WITH ORDINALITY AS e(topic, key, value, headers, n) ORDER BY n"
)
# A write that can be a part of a data-modifying WITH: no WITH of its own (it must be at
# the top level) and no RETURNING (nobody would read it).
_WAITS_FOR_COMMIT = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b(?!.*\bRETURNING\b)", re.I | re.S)
_PLACEHOLDER = re.compile(r"\$(\d+)")


def _renumbered(placeholder: re.Match[str], *, offset: int) -> str:
    return f"${int(placeholder.group(1)) + offset}"


def one_statement(writes: Sequence[tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """Writes as one statement: all but the last as parts of its WITH, their $n renumbered
    after those before them. PostgreSQL runs every part, read or not, once."""
    texts: list[str] = []
    args: list[Any] = []
    for statement, values in writes:
        texts.append(_PLACEHOLDER.sub(partial(_renumbered, offset=len(args)), statement))
        args.extend(values)
    if len(texts) == 1:
        return texts[0], args
    parts = ", ".join(f"w{n} AS ({text})" for n, text in enumerate(texts[:-1]))
    return f"WITH {parts} {texts[-1]}", args


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
