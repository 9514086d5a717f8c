"""The transactional outbox against real PostgreSQL and Kafka, with the relay killed."""

from __future__ import annotations

import contextlib

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery
from support import case_received, migrate, read_topic, run_relay
from yiwang.common.clock import SystemClock
from yiwang.common.envelope import decode
from yiwang.common.faults import CRASH_EXIT_CODE
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.common.postgres.migrations import apply_migrations, common_migrations
from yiwang.common.testing import InMemoryUnitOfWork

pytestmark = pytest.mark.integration

CASES_TABLE = "CREATE TABLE cases (case_id text PRIMARY KEY, state text NOT NULL);"


async def change_state_and_emit(
    database_url: str, schema: str, topic: str, case_id: str, *, fail: bool = False
) -> str:
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    try:
        uow = PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock())
        async with uow:
            await uow.connection.execute("INSERT INTO cases VALUES ($1, 'received')", case_id)
            envelope = await uow.emit(case_received(case_id), topic=topic)
            if fail:
                raise RuntimeError("the handler failed after emitting")
        return envelope.id
    finally:
        await pool.close()


async def unpublished(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox'))
    finally:
        await conn.close()


async def test_relay_killed_between_commit_and_publish_publishes_once_after_restart(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, CASES_TABLE)
    event_id = await change_state_and_emit(database_url, schema, topic, "case-a")

    crashed = run_relay(schema, crash_at="outbox.before_publish")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert await read_topic(kafka, topic, expect=1, within=2) == []
    assert await unpublished(database_url, schema) == 1

    restarted = run_relay(schema)
    assert restarted.returncode == 0, restarted.stderr
    records = await read_topic(kafka, topic, expect=1)
    assert len(records) == 1
    assert decode(records[0].value, records[0].headers).id == event_id
    assert records[0].key == b"case-a"
    assert await unpublished(database_url, schema) == 0


async def test_relay_killed_after_publish_repeats_the_same_event_id(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    """The record may appear twice, but with one ce_id, which the consumers' inbox absorbs."""
    await migrate(database_url, schema, CASES_TABLE)
    event_id = await change_state_and_emit(database_url, schema, topic, "case-b")

    crashed = run_relay(schema, crash_at="outbox.after_publish")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert run_relay(schema).returncode == 0

    records = await read_topic(kafka, topic, expect=2)
    assert [decode(r.value, r.headers).id for r in records] == [event_id, event_id]
    assert await unpublished(database_url, schema) == 0


async def test_state_change_and_event_commit_together_or_not_at_all(
    kafka: str, database_url: str, schema: str, topic: str
) -> None:
    await migrate(database_url, schema, CASES_TABLE)
    with pytest.raises(RuntimeError, match="failed after emitting"):
        await change_state_and_emit(database_url, schema, topic, "case-c", fail=True)

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".cases') == 0
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox') == 0
    finally:
        await conn.close()
    assert run_relay(schema).returncode == 0
    assert await read_topic(kafka, topic, expect=1, within=2) == []


async def test_deferred_writes_go_with_the_events_in_one_statement_or_not_at_all(
    database_url: str, schema: str, topic: str
) -> None:
    """A handler's last writes wait for the commit and go with its events (one round trip);
    a failure after them leaves neither the rows nor the events."""
    await migrate(database_url, schema, CASES_TABLE)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    statements: list[str] = []
    try:
        for case_id, fail in (("case-d", False), ("case-e", True)):
            uow = PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock())
            with contextlib.suppress(RuntimeError):
                async with uow:
                    uow.connection.add_query_logger(lambda q: statements.append(q.query))
                    uow.defer_writes()
                    await uow.write("INSERT INTO cases VALUES ($1, $2)", case_id, "received")
                    await uow.write("UPDATE cases SET state = $2 WHERE case_id = $1", "x", "y")
                    await uow.emit(case_received(case_id), topic=topic)
                    with pytest.raises(ValueError, match="not a write that can wait"):
                        await uow.write("INSERT INTO cases VALUES ($1, 'a') RETURNING 1", "z")
                    mine = "SELECT count(*) FROM cases WHERE case_id = $1"
                    assert await uow.connection.fetchval(mine, case_id) == 0  # not yet
                    if fail:
                        raise RuntimeError("the handler failed after its writes")
        async with pool.acquire() as conn:
            assert await conn.fetch("SELECT case_id, state FROM cases") == [("case-d", "received")]
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await pool.close()
    written = [s for s in statements if "INSERT INTO outbox" in s]
    assert len(written) == 1
    assert written[0].startswith("WITH w0 AS (INSERT INTO cases")
    assert "unnest($5::text[], $6::bytea[]" in written[0]  # after the writes' $1..$4


async def test_an_event_and_the_key_it_carries_go_into_the_inbox_in_one_statement(
    database_url: str, schema: str
) -> None:
    """An event's key is recorded only when the event was recorded just now, each once,
    in one round trip; the in-memory unit of work that unit tests use answers alike."""
    await migrate(database_url, schema, CASES_TABLE)
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    statements: list[str] = []

    def log(query: LoggedQuery) -> None:
        statements.append(query.query)

    polls = [
        # (event ids, (event id, key) pairs): what each poll records
        (["p1", "p2", "p2"], [("p1", "k1"), ("p2", "k2"), ("p2", "k2")]),
        # p1 again (a redelivery: its key, new as it is, is not recorded), p3 replays k2,
        # p4 and p5 carry one new key twice (the second is a replay within the poll), p6
        # carries none.
        (
            ["p1", "p3", "p4", "p5", "p6"],
            [("p1", "k9"), ("p3", "k2"), ("p4", "k4"), ("p5", "k4")],
        ),
        (["p7"], []),
    ]
    answers = [({"p1", "p2"}, {"k1", "k2"}), ({"p3", "p4", "p5", "p6"}, {"k4"}), ({"p7"}, set())]
    try:
        for (event_ids, keys), answer in zip(polls, answers, strict=True):
            uow = PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock())
            async with uow:
                uow.connection.add_query_logger(log)
                try:
                    recorded = await uow.first_deliveries_with_keys(
                        consumer="records", event_ids=event_ids, keys_consumer="keys", keys=keys
                    )
                finally:  # the pool hands the same connection out again
                    uow.connection.remove_query_logger(log)
            assert recorded == answer
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT consumer, event_id FROM inbox")
        assert sorted((r["consumer"], r["event_id"]) for r in rows) == sorted(
            [("records", f"p{n}") for n in range(1, 8)] + [("keys", k) for k in ("k1", "k2", "k4")]
        )
    finally:
        await pool.close()
    assert sum("INSERT INTO inbox" in s for s in statements) == len(polls)

    fake = InMemoryUnitOfWork()
    for (event_ids, keys), answer in zip(polls, answers, strict=True):
        async with fake:
            recorded = await fake.first_deliveries_with_keys(
                consumer="records", event_ids=event_ids, keys_consumer="keys", keys=keys
            )
        assert recorded == answer
    assert ("keys", "k9") not in fake.inbox
    with pytest.raises(ValueError, match="consumer of their own"):
        async with fake:
            await fake.first_deliveries_with_keys(
                consumer="records", event_ids=["p8"], keys_consumer="records", keys=[]
            )


async def test_migration_0003_drops_the_sent_rows_and_keeps_those_waiting(
    database_url: str, schema: str
) -> None:
    """An existing outbox: the rows already published go, the ones waiting stay to be sent."""
    before = [m for m in common_migrations() if m.version < "0003"]
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=before)
        await conn.execute(
            f'INSERT INTO "{schema}".outbox (topic, key, value, headers, published_at)'
            " SELECT 't', 'k', convert_to(n::text, 'UTF8'), '[]',"
            " CASE WHEN n % 2 = 0 THEN now() END FROM generate_series(1, 6) AS n"
        )
        await apply_migrations(conn, schema=schema, migrations=common_migrations())
        waiting = await conn.fetch(
            f"SELECT convert_from(value, 'UTF8') AS v FROM \"{schema}\".outbox ORDER BY id"
        )
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'outbox'",
            schema,
        )
    finally:
        await conn.close()
    assert [r["v"] for r in waiting] == ["1", "3", "5"]
    assert "published_at" not in {r["column_name"] for r in columns}
