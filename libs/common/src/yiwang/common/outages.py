"""Outages (故障): failures worth waiting out, because the database or the broker is briefly
away, restarting or failing over.

Anything else a handler or a background job raises is a fault of the work itself: a
subscriber dead-letters its record after a few attempts, a job logs it with its traceback
and counts it. An outage never counts towards either: a record must never be
dead-lettered because PostgreSQL restarted.

What counts, and why:

- the connection failed or broke: `OSError` (refused, reset, broken pipe; also the unit of
  work's `DatabaseRefused`, a server error while the pool opened a connection, such as a
  database not accepting connections), `TimeoutError`,
  asyncpg's `PostgresConnectionError` family (`ConnectionDoesNotExistError`: "connection
  was closed in the middle of operation");
- the server is going away or not there yet (SQLSTATE class 57P): `AdminShutdownError`
  (a fast shutdown, or `pg_terminate_backend`), `CrashShutdownError` (another backend
  crashed, the server restarts), `CannotConnectNowError` (starting up, or in recovery),
  `IdleSessionTimeoutError` (the server closed an idle pooled connection);
- a failover: `ReadOnlySQLTransactionError` (the connection reached a server that is a
  standby now) and `TooManyConnectionsError` (everyone reconnects at once);
- contention that a retry resolves: `SerializationError`, `DeadlockDetectedError`;
- asyncpg's `InternalClientError` ("cannot switch to state …; another operation is in
  progress"): a pooled connection the server dropped while it was idle comes back with
  its protocol state broken; the next attempt gets a fresh connection (seen when every
  backend of a service was terminated under load);
- asyncpg's own `InterfaceError` only when it says the connection or the pool is closed
  (the pool closes on shutdown, a connection after the server dropped it): the others are
  programming errors (`DataError`, "another operation is in progress", a transaction
  misused), and retrying those forever would stop the partition for good;
- a Kafka error that aiokafka marks retriable (the broker or a leader away), and a
  producer's `KafkaTimeoutError`;
- an exception raised `from` an outage (a wrapper) and an exception group made of outages.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError

OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InternalClientError,
    KafkaTimeoutError,  # a send the broker did not acknowledge in time
)

# What asyncpg's InterfaceError says when the connection or the pool is gone.
_CLOSED = (
    "connection is closed",
    "underlying connection is closed",
    "pool is closing",
    "pool is closed",
)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` means the database or the broker is away: retry without limit."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_outage(e) for e in exc.exceptions)
    if isinstance(exc, OUTAGES):
        return True
    if type(exc) is asyncpg.InterfaceError:  # not its subclasses: DataError is a bug
        return any(phrase in str(exc) for phrase in _CLOSED)
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return exc.__cause__ is not None and is_outage(exc.__cause__)
