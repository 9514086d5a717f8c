"""What one round trip costs on this machine's stack: the unit the steady phases of
`pipeline.py` are made of. At a trickle every hop of a case is a poll of one record, so a
case costs its round trips, not its bytes.

    uv run --frozen python benchmarks/round_trips.py [--seconds 10] [--rate 50]

It reports, after the machine's CPU and wake references (as pipeline.py prints them):
- PostgreSQL: CPU per statement of this client (asyncpg, uvloop) and of its backend, for
  `SELECT 1`, an INSERT on its own, and BEGIN + INSERT + COMMIT (what a transaction adds);
- Kafka: the broker's CPU per record produced at `--rate` with the services' producer
  settings (idempotent, acks=all, linger 0: one produce request a record), first with no
  consumer, then with one consumer as the case path's subscribers fetch (min bytes 1:
  each record completes a fetch). The broker's idle CPU, measured as long before and
  after, is taken off; when the two differ the run says so (the broker was busy). Beside
  it, this process's own CPU per record: the producer's alone, then with the consumer's
  polls (one record each) added, an aiokafka client's cost per round trip (its idle CPU,
  a few fetches a second, not taken off).
Traffic goes to loopback only, `--rate` times `--seconds` records at most.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import (
    cpu_reference,
    cpu_seconds,
    delete_topics,
    infra_pids,
    kafka_options,
    stack_settings,
    unique_prefix,
    wake_line,
    wake_reference,
)

STATEMENTS = 3000
SCRATCH = f"bench_round_trips_{os.getpid()}"


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def per_statement(
    backend: int, run: Callable[[], Awaitable[Any]], count: int = STATEMENTS
) -> tuple[float, float]:
    """Microseconds of client and backend CPU per call of `run`."""
    client, server = own_cpu(), cpu_seconds([backend])
    for _ in range(count):
        await run()
    return 1e6 * (own_cpu() - client) / count, 1e6 * (cpu_seconds([backend]) - server) / count


async def postgres(database_url: str) -> dict[str, tuple[float, float]]:
    conn = await asyncpg.connect(database_url)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        # A table of its own in a scratch schema, not a temporary one: its rows are
        # WAL-logged, as the services' are. Its commits wait for the WAL flush only as
        # theirs do (the local stack runs synchronous_commit = off).
        await conn.execute(f"CREATE SCHEMA {SCRATCH}")
        await conn.execute(f"CREATE TABLE {SCRATCH}.round_trip (id bigint, note text)")

        async def insert() -> None:
            await conn.execute(f"INSERT INTO {SCRATCH}.round_trip VALUES ($1, $2)", 1, "x")

        async def transaction() -> None:
            async with conn.transaction():
                await insert()

        async def select() -> None:
            await conn.fetchval("SELECT 1")

        return {
            "SELECT 1": await per_statement(backend, select),
            "INSERT": await per_statement(backend, insert),
            "BEGIN+INSERT+COMMIT": await per_statement(backend, transaction),
        }
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
        await conn.close()


async def broker_cpu(seconds: float) -> float:
    pids = infra_pids()["kafka"]
    before = cpu_seconds(pids)
    await asyncio.sleep(seconds)
    return cpu_seconds(pids) - before


async def kafka(
    kafka_url: str, *, rate: float, seconds: float
) -> dict[str, tuple[float, float, float]]:
    """Broker ms per record, its idle ms/s, and this process's ms per record, with no
    consumer and with one."""
    prefix = unique_prefix()
    topic = f"{prefix}bench.round-trips"
    results: dict[str, tuple[float, float, float]] = {}
    try:
        admin = AIOKafkaAdminClient(**kafka_options(kafka_url))
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(**kafka_options(kafka_url), enable_idempotence=True,
                                    acks="all", linger_ms=0)  # fmt: skip
        await producer.start()
        try:
            for consumers in (0, 1):
                results[f"{consumers} consumer(s)"] = await _phase(
                    kafka_url, topic, producer, consumers=consumers, rate=rate, seconds=seconds
                )
        finally:
            await producer.stop()
    finally:
        await delete_topics(kafka_url, prefix)
    return results


async def _phase(
    kafka_url: str,
    topic: str,
    producer: AIOKafkaProducer,
    *,
    consumers: int,
    rate: float,
    seconds: float,
) -> tuple[float, float, float]:
    reader: AIOKafkaConsumer | None = None
    drain: asyncio.Task[None] | None = None
    try:
        if consumers:
            reader = AIOKafkaConsumer(topic, **kafka_options(kafka_url), group_id=None,
                                      fetch_min_bytes=1, fetch_max_wait_ms=500)  # fmt: skip
            await reader.start()
            await reader.seek_to_end()
            drain = asyncio.create_task(_drain(reader))
        await asyncio.sleep(2)
        idle_before = await broker_cpu(seconds) / seconds  # CPU seconds per second
        count = max(1, int(rate * seconds))
        pids = infra_pids()["kafka"]
        before, own_before, started = cpu_seconds(pids), own_cpu(), time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            await producer.send_and_wait(topic, b"x" * 700, key=str(n).encode())
        await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
        busy, own = cpu_seconds(pids) - before, own_cpu() - own_before
        elapsed = time.monotonic() - started
        # Idle again after: the broker's own work (a test run's topics being deleted, say)
        # would otherwise be counted as the records' or taken off them.
        idle_after = await broker_cpu(seconds) / seconds
        if drain is not None and drain.done():
            drain.result()  # the reader failed: the figure would count no fetches
            raise RuntimeError("the reader stopped reading")
        if abs(idle_after - idle_before) > max(0.5 * min(idle_before, idle_after), 0.01):
            print(f"  the broker's idle CPU moved ({1000 * idle_before:.0f} -> "
                  f"{1000 * idle_after:.0f} ms/s): busy with other work, run again")  # fmt: skip
        idle = (idle_before + idle_after) / 2
        return 1000 * (busy - idle * elapsed) / count, 1000 * idle, 1000 * own / count
    finally:
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        if reader is not None:
            await reader.stop()


async def _drain(reader: AIOKafkaConsumer) -> None:
    """Reads as the case path's subscribers do, each record as it comes."""
    while True:
        await reader.getmany(timeout_ms=500, max_records=500)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="each Kafka phase")
    parser.add_argument("--rate", type=float, default=50.0, help="records/s, one at a time")
    args = parser.parse_args()
    print(f"CPU reference: {cpu_reference():.0f} ms (one core, fixed workload; lower is faster)")
    print(wake_line(wake_reference()))
    settings = stack_settings()
    print("PostgreSQL, CPU per statement (us):   client   backend")
    for name, (client, server) in (await postgres(settings["DATABASE_URL"])).items():
        print(f"  {name:32s} {client:8.0f} {server:9.0f}")
    figures = await kafka(settings["KAFKA_BOOTSTRAP_SERVERS"], rate=args.rate,
                          seconds=args.seconds)  # fmt: skip
    print(f"Kafka, a record at a time at {args.rate:.0f}/s, ms per record (idle: ms/s)")
    print(f"  {'':32s} {'broker':>8s} {'idle':>11s} {'client':>12s}")
    for name, (per_record, idle, own) in figures.items():
        print(f"  {name:32s} {per_record:8.2f} {idle:11.0f} {own:12.2f}")


if __name__ == "__main__":
    uvloop.run(main())  # as the services run
