"""What counts as an outage (retried without limit) and what as a fault (dead-lettered after
its attempts): a record is never dead-lettered because the database restarted."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from subscriber_fakes import Letters, Record, a_case_received, record_handler
from yiwang.common import subscriber
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseReceived
from yiwang.common.outages import is_outage
from yiwang.common.subscriber import _RecordHandler


class Wrapped(RuntimeError):
    """A handler's own exception, raised `from` what happened underneath."""


OUTAGES = [
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another process"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    asyncpg.IdleSessionTimeoutError("terminating connection due to idle-session timeout"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    asyncpg.InterfaceError(
        "cannot call Transaction.rollback(): the underlying connection is closed"
    ),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.InterfaceError("pool is closed"),
    ConnectionResetError("Connection reset by peer"),
    ConnectionRefusedError("Connect call failed"),
    BrokenPipeError(),
    TimeoutError(),
    KafkaConnectionError("Unable to bootstrap from localhost:9092"),
    KafkaTimeoutError(),
    ExceptionGroup("two", [asyncpg.AdminShutdownError("x"), ConnectionResetError()]),
]

FAULTS = [
    KeyError("a bug"),
    ValueError("unexpected data"),
    asyncpg.UniqueViolationError("duplicate key value"),
    asyncpg.UndefinedTableError('relation "x" does not exist'),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.DataError("invalid input for query argument $1"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    asyncpg.InterfaceError("cannot commit; the transaction is already rolled back"),
    RecordTooLargeError(),
    TopicAuthorizationFailedError(),
    ExceptionGroup("mixed", [asyncpg.AdminShutdownError("x"), KeyError("bug")]),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: f"{type(e).__name__}:{e}")
def test_shutdown_failover_and_lost_connections_are_outages(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize("exc", FAULTS, ids=lambda e: f"{type(e).__name__}:{e}")
def test_bugs_and_bad_data_are_faults(exc: BaseException) -> None:
    assert not is_outage(exc)


def test_an_exception_raised_from_an_outage_is_one() -> None:
    wrapped = Wrapped("could not save the case")
    wrapped.__cause__ = asyncpg.AdminShutdownError("terminating connection")
    assert is_outage(wrapped)
    assert not is_outage(Wrapped("no cause"))


# --- the subscriber keeps the two apart ------------------------------------------------


def a_record() -> Record:
    encoded = encode(Envelope(payload=a_case_received(), source="/t"), topic="case.received.v1")
    return Record(encoded.topic, 0, 7, encoded.key, encoded.value, encoded.headers)


def handler_for(letters: Letters, raising: list[BaseException]) -> tuple[_RecordHandler, list[str]]:
    handled: list[str] = []

    async def handle(envelope: Envelope[Any]) -> None:
        if raising:
            raise raising.pop(0)
        handled.append(envelope.id)

    records = record_handler(by_type={CaseReceived.event_type: handle}, letters=letters)
    return records, handled


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriber, "BACK_OFF_SECONDS", 0.0)


async def test_a_database_restart_never_dead_letters_a_record() -> None:
    letters = Letters()
    restart = [asyncpg.AdminShutdownError("terminating connection")] + [
        asyncpg.CannotConnectNowError("the database system is starting up") for _ in range(20)
    ]
    records, handled = handler_for(letters, restart)
    record = a_record()
    while not await records.handle(record):
        pass
    assert len(handled) == 1
    assert letters.sent == []
    assert records.failures == {}
    assert records.outages == {}


async def test_outages_do_not_count_towards_a_faults_attempts() -> None:
    letters = Letters()
    outages: list[BaseException] = [asyncpg.InterfaceError("pool is closing") for _ in range(8)]
    faults: list[BaseException] = [KeyError("bug") for _ in range(4)]
    records, handled = handler_for(letters, [*outages, *faults])
    record = a_record()
    while not await records.handle(record):
        pass
    assert letters.sent == [], "4 faults are fewer than 5 attempts"
    assert len(handled) == 1

    records, _ = handler_for(letters, [KeyError("bug") for _ in range(5)])
    while not await records.handle(record):
        pass
    assert len(letters.sent) == 1
    assert "handler failed 5 times: KeyError" in letters.sent[0]


# --- a unit of work whose BEGIN the database dropped gives its connection back -----------


class DroppedBegin:
    async def start(self) -> None:
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2)")


class BrokenConnection:
    def transaction(self) -> DroppedBegin:
        return DroppedBegin()


class Pool(asyncpg.Pool):
    """Hands out a connection whose BEGIN fails, and keeps what comes back."""

    def __init__(self) -> None:  # no real pool behind it
        self.handed_out: list[BrokenConnection] = []
        self.released: list[BrokenConnection] = []

    async def acquire(self, **_: Any) -> Any:  # type: ignore[override]
        self.handed_out.append(BrokenConnection())
        return self.handed_out[-1]

    async def release(self, connection: Any, **_: Any) -> None:  # type: ignore[override]
        self.released.append(connection)


async def test_a_unit_of_work_that_cannot_begin_releases_its_connection() -> None:
    from yiwang.common.clock import SystemClock
    from yiwang.common.postgres import PostgresUnitOfWork

    pool = Pool()
    with pytest.raises(asyncpg.InternalClientError):
        async with PostgresUnitOfWork(pool, source="/t", clock=SystemClock()):
            pass
    assert pool.released == pool.handed_out
    assert len(pool.released) == 1


def test_a_database_that_refuses_new_connections_is_an_outage() -> None:
    from yiwang.common.postgres.unit_of_work import DatabaseRefused

    refused = asyncpg.ObjectNotInPrerequisiteStateError(
        'database "x" is not currently accepting connections'
    )
    with pytest.raises(DatabaseRefused) as caught:
        raise DatabaseRefused(str(refused)) from refused
    assert is_outage(caught.value)
    assert not is_outage(refused)  # the same error inside a transaction is a fault
