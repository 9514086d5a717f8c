"""The whole pipeline: signed SubmitCase records on intake.submissions.v1 to lead work orders
on the department topics, with all five services as their own processes (as `make run`
starts them, at real-time clock), Kafka and PostgreSQL on the same machine.

    uv run --frozen python benchmarks/pipeline.py [--flood 3000] [--rates 50,100,200]
        [--seconds 20] [--idle 10] [--top N] [--json benchmarks/results/pipeline.json]

It reports, in one run:
- raw produce->consume msgs/s on the same broker for records of the same size (the
  machine's reference: the other figures read as ratios of it on a noisy machine);
- flood throughput: cases/s from the first record produced to the last lead work order
  on a department topic, and to oversight's projection holding every case (lag 0);
- latency percentiles (submission produced -> work order written) at steady rates;
- CPU seconds per case of every process, Kafka and PostgreSQL included, and each
  service's peak RSS;
- PostgreSQL statements and transactions per case, all services' (pg_stat_statements):
  counts, which CPU noise does not move (how many records a poll gathers does); with
  `--top N`, each phase's N most run statements, per case.
Categories are township- and county-tier matters without mediation, so every case ends
with a lead work order.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import (
    ServiceProcess,
    Statements,
    cpu_reference,
    cpu_times,
    create_database,
    delete_topics,
    drop_database,
    infra_pids,
    kafka_options,
    log_path,
    peak_rss_mb,
    stack_settings,
    unique_prefix,
    uptime_s,
    wake_reference,
)
from pipeline_report import report
from yiwang.common.case import Location, SourceRef
from yiwang.common.departments import Department
from yiwang.common.envelope import decode
from yiwang.common.events import SubmitCase, WorkOrderIssued
from yiwang.common.topic_admin import create_topics
from yiwang.common.topics import INTAKE_SUBMISSIONS, department_topic
from yiwang.intake.adapters.signing import signed_submission

SYSTEM = "bench-platform"
MODULES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}
CATEGORIES = ("road-damage", "streetlight", "price-fraud", "noise", "unlicensed-business",
              "subsistence-allowance", "food-safety", "illegal-construction")  # fmt: skip


def submissions(count: int, rng: random.Random, run: str) -> list[SubmitCase]:
    return [
        SubmitCase(
            source=SourceRef(system=SYSTEM, external_id=f"{run}-{n}"),
            category=rng.choice(CATEGORIES),
            title="群众反映",
            description="路灯不亮，请尽快处理",
            # Inside the district county's grid (make run's), so every case is placed.
            location=Location(lon=rng.uniform(113.21, 113.89), lat=rng.uniform(37.61, 38.19)),
        )
        for n in range(count)
    ]


class Meter:
    """CPU seconds of each process over a phase."""

    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self.services = services
        self.start: dict[str, tuple[float, float]] = {}
        self.system: dict[str, float] = {}

    def pids(self) -> dict[str, list[int]]:
        own = {n: [s.process.pid] for n, s in self.services.items() if s.process is not None}
        return {**own, **infra_pids()}

    def begin(self) -> None:
        self.start = {name: cpu_times(pids) for name, pids in self.pids().items()}

    def end(self) -> dict[str, float]:
        """Each process's CPU seconds since `begin`; `system` keeps the kernel's part."""
        ended = {n: cpu_times(p) for n, p in self.pids().items()}
        began = {n: self.start.get(n, (0.0, 0.0)) for n in ended}
        self.system = {n: ended[n][1] - began[n][1] for n in ended}
        return {n: sum(ended[n]) - sum(began[n]) for n in ended}


class WorkOrders:
    """Reads every department topic; the first lead work order of each case, with its
    record's timestamp."""

    def __init__(self, kafka: str, prefix: str) -> None:
        self.topics = [prefix + department_topic(d) for d in Department]
        self.consumer = AIOKafkaConsumer(
            *self.topics, **kafka_options(kafka), auto_offset_reset="earliest",
            enable_auto_commit=False, group_id=None,
        )  # fmt: skip
        self.first: dict[str, float] = {}  # case id -> record timestamp (s)

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while True:
                polled = await self.consumer.getmany(timeout_ms=200, max_records=5000)
                for records in polled.values():
                    for record in records:
                        event = decode(record.value, record.headers).payload
                        if isinstance(event, WorkOrderIssued) and event.role.value == "lead":
                            self.first.setdefault(event.case_id, record.timestamp / 1000)
        finally:
            await self.consumer.stop()


async def produce(kafka: str, records: list[Any], *, rate: float | None) -> dict[str, float]:
    """Send the records (all at once, or at `rate` per second); external id -> send time."""
    producer = AIOKafkaProducer(**kafka_options(kafka), linger_ms=5)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        started = time.time()
        for n, (external_id, record) in enumerate(records):
            if rate:
                await asyncio.sleep(max(0.0, started + n / rate - time.time()))
            sent[external_id] = time.time()
            await producer.send(record.topic, value=record.value, key=record.key,
                                headers=record.headers)  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def raw_baseline(kafka: str, prefix: str, *, size: int, count: int = 20_000) -> float:
    """One Python client: produce `count` records of `size` bytes, consume them; msgs/s."""
    topic = f"{prefix}bench.raw"
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**kafka_options(kafka))
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(**kafka_options(kafka), linger_ms=5)
    consumer = AIOKafkaConsumer(topic, **kafka_options(kafka), auto_offset_reset="earliest",
                                group_id=None)  # fmt: skip
    await producer.start()
    await consumer.start()
    value = b"x" * size
    started = time.perf_counter()
    for n in range(count):
        await producer.send(topic, value=value, key=str(n).encode())
    await producer.flush()
    seen = 0
    while seen < count:
        polled = await consumer.getmany(timeout_ms=500, max_records=10_000)
        seen += sum(len(r) for r in polled.values())
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    return count / elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


async def wait_for(check: Any, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def phase(
    *,
    name: str,
    count: int,
    rate: float | None,
    kafka: str,
    prefix: str,
    credential: str,
    orders: WorkOrders,
    conn: asyncpg.Connection,
    meter: Meter,
    statements: Statements,
    rng: random.Random,
    top: int = 0,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    topic = prefix + INTAKE_SUBMISSIONS
    commands = submissions(count, rng, run)
    records = [(c.source.external_id, signed_submission(c, credential=credential, topic=topic))
               for c in commands]  # fmt: skip
    projected = await conn.fetchval("SELECT count(*) FROM oversight.cases") + count
    begun = await statements.read() if statements.available else None
    calls = await statements.by_query() if begun and top else {}
    server_ms = None
    meter.begin()
    started = time.time()
    sent = await produce(kafka, records, rate=rate)
    case_ids: dict[str, str] = {}  # case id -> external id, once intake has stored them all
    duplicates = [0]

    async def dispatched() -> bool:
        if len(case_ids) + duplicates[0] < count:
            statements.ran()
            rows = await conn.fetch(
                "SELECT case_id::text, external_id, master_case_id IS NOT NULL AS duplicate"
                " FROM intake.cases WHERE external_id LIKE $1",
                f"{run}-%",
            )
            # A report within 250 m of an open one of its category is linked to it as a
            # duplicate: it gets no work order of its own.
            case_ids.update((r["case_id"], r["external_id"]) for r in rows if not r["duplicate"])
            duplicates[0] = sum(1 for r in rows if r["duplicate"])
        return len(case_ids) + duplicates[0] >= count and all(c in orders.first for c in case_ids)

    async def in_projection() -> bool:
        statements.ran()
        return bool(await conn.fetchval("SELECT count(*) FROM oversight.cases") >= projected)

    done = await wait_for(dispatched, within=300)
    to_departments = time.time() - started
    caught_up = await wait_for(in_projection, within=300)
    to_oversight = time.time() - started
    cpu = meter.end()
    ended = await statements.read() if begun is not None else None
    if calls:
        after = await statements.by_query()
        ran = {
            q: ((n - calls.get(q, (0, 0.0))[0]) / count, (ms - calls.get(q, (0, 0.0))[1]) / count)
            for q, (n, ms) in after.items()
            if n > calls.get(q, (0, 0.0))[0]
        }
        server_ms = sum(ms for _, ms in ran.values())
        calls = dict(sorted(ran.items(), key=lambda kv: -kv[1][0])[:top])
    if not done:
        missing = [c for c in case_ids if c not in orders.first]
        print(f"{name}: intake stored {len(case_ids)} of {count}; {len(missing)} without a "
              f"lead work order, e.g. {missing[:3]}", file=sys.stderr)  # fmt: skip
    latencies = [
        orders.first[case_id] - sent[external_id]
        for case_id, external_id in case_ids.items()
        if case_id in orders.first
    ]
    return {
        "phase": name,
        "cases": count,
        "rate": rate,
        "complete": done and caught_up,
        "to_departments_s": to_departments,
        "to_oversight_s": to_oversight,
        "cases_per_s_departments": count / to_departments,
        "cases_per_s_oversight": count / to_oversight,
        "latency_ms": {f"p{p}": 1000 * percentile(latencies, p) for p in (50, 90, 99)},
        "cpu_ms_per_case": {n: 1000 * s / count for n, s in sorted(cpu.items())},
        "cpu_ms_per_case_total": 1000 * sum(cpu.values()) / count,
        # The kernel's share of that CPU: sockets, wake-ups (a round trip's cost).
        "system_share": sum(meter.system.values()) / max(sum(cpu.values()), 1e-9),
        "system_ms_per_case": {n: 1000 * s / count for n, s in sorted(meter.system.items())},
        # Every process's, background jobs included, over the phase, as for the CPU.
        "statements_per_case": (ended[0] - begun[0]) / count if begun and ended else None,
        "transactions_per_case": (ended[1] - begun[1]) / count if begun and ended else None,
        # [calls, ms]: the server's wall time planning and running them (--top only).
        "top_statements_per_case": calls,
        "statement_ms_per_case": server_ms,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=3000, help="cases sent at once")
    parser.add_argument("--rates", default="50,100,200", help="steady rates, cases/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="each steady phase")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds measured idle")
    parser.add_argument("--top", type=int, default=0, help="list a phase's N most run statements")
    args = parser.parse_args()
    reference = cpu_reference()  # before anything of ours runs
    wake = wake_reference()
    settings = stack_settings()
    kafka = settings["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = unique_prefix()
    database = await create_database(settings["DATABASE_URL"])
    await create_topics(bootstrap_servers=kafka, prefix=prefix)
    env = {**settings, "DATABASE_URL": database, "YIWANG_TOPIC_PREFIX": prefix,
           "YIWANG_LOG_LEVEL": "WARNING", "YIWANG_ENV": "development",
           "YIWANG_CLOCK_SPEED": "1"}  # fmt: skip
    services = {n: ServiceProcess(m, env=env, log_path=log_path(n)) for n, m in MODULES.items()}
    for service in services.values():
        service.env["YIWANG_OUTBOX_POLL_SECONDS"] = "1.0"  # make run's default
    orders = WorkOrders(kafka, prefix)
    reader: asyncio.Task[None] | None = None
    conn: asyncpg.Connection | None = None
    try:
        for service in services.values():
            await asyncio.to_thread(service.start, within=120)
        credential = subprocess.run(
            [sys.executable, "-m", "yiwang.intake.cli", "issue-signing-secret", SYSTEM],
            env=services["intake"].env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        conn = await asyncpg.connect(database)
        statements = Statements(conn)
        await statements.start()
        reader = asyncio.create_task(orders.run())
        size = len(signed_submission(submissions(1, random.Random(1), "x")[0], credential=credential,
                                     topic=prefix + INTAKE_SUBMISSIONS).value)  # fmt: skip
        raw = await raw_baseline(kafka, prefix, size=size)
        meter = Meter(services)
        # What the running pipeline costs with nothing to do: the floor under the steady
        # phases' CPU per case.
        meter.begin()
        idle_from = await statements.read() if statements.available else None
        await asyncio.sleep(args.idle)
        idle = {n: 1000 * s / args.idle for n, s in sorted(meter.end().items())}
        idle_to = await statements.read() if idle_from is not None else None
        rng = random.Random(7)
        run_phase = functools.partial(
            phase, kafka=kafka, prefix=prefix, credential=credential, orders=orders, conn=conn,
            meter=meter, statements=statements, rng=rng, top=args.top,
        )  # fmt: skip
        broker_uptime = uptime_s(infra_pids()["kafka"][0])
        phases = [await run_phase(name="flood", count=args.flood, rate=None)]
        for rate in (float(r) for r in args.rates.split(",") if r):
            count = int(rate * args.seconds)
            phases.append(await run_phase(name=f"steady {rate:.0f}/s", count=count, rate=rate))
        result = {
            "cpu_reference_ms": reference,
            "wake_reference_us": wake,
            "raw_msgs_per_s": raw,
            "broker_uptime_s": broker_uptime,
            "record_bytes": size,
            "idle_cpu_ms_per_s": idle,
            "idle_statements_per_s": (
                (idle_to[0] - idle_from[0]) / args.idle if idle_from and idle_to else None
            ),
            "phases": phases,
            "peak_rss_mb": {
                n: peak_rss_mb(s.process.pid) for n, s in services.items() if s.process
            },
            "cpus": os.cpu_count(),
        }
        report(result)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2))
            print(f"\nwritten: {args.json}")
    finally:
        if reader is not None:
            reader.cancel()
        if conn is not None:
            await conn.close()
        for service in services.values():
            service.stop()
        await drop_database(settings["DATABASE_URL"], database)
        await delete_topics(kafka, prefix)


if __name__ == "__main__":
    asyncio.run(main())
