"""Cases per second through grid-routing, topic to topic: CaseReceived records are put on
case.received.v1 and the clock stops when as many CaseRouted are on case.routed.v1.

Runs the service as a separate process (as its own Kafka user) against its own database
and a unique topic prefix on the local stack (make infra):

    uv run --frozen python benchmarks/grid_routing_throughput.py [--cases 3000] [--preset district]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import numpy as np
import shapely
from aiokafka import AIOKafkaConsumer
from harness import KAFKA_USERS, cpu_seconds, delete_topics, kafka_options, stack_settings
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.categories import CATEGORIES
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseReceived
from yiwang.common.producer import EventProducer
from yiwang.common.settings import CommonSettings
from yiwang.common.topic_admin import create_topics
from yiwang.common.topics import CASE_RECEIVED, CASE_ROUTED
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.geojson import read_feature_collections


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cases(preset: str, count: int, run: str) -> list[Envelope[CaseReceived]]:
    network, _ = read_feature_collections(generate_county(preset).items())
    points = shapely.point_on_surface([m.polygon for m in network.micro_grids])
    rng = np.random.default_rng(3)
    categories = sorted(CATEGORIES)
    out = []
    for n in range(count):
        point = points[rng.integers(len(points))]
        case_id = f"{run}-{n}"
        facts = CaseFacts(
            case_id=case_id,
            case_number=f"B-{n}",
            category=categories[n % len(categories)],
            title="benchmark",
            description="benchmark case",
            channel=Channel.PLATFORM,
            location=Location(lon=point.x, lat=point.y),
        )
        payload = CaseReceived(case_id=case_id, case=facts, received_at=datetime.now(UTC))
        out.append(Envelope(payload=payload, source="/yiwang/benchmark"))
    return out


async def _measure(
    kafka: str, prefix: str, cases: list[Envelope[CaseReceived]], service_pid: int
) -> tuple[float, float]:
    """Seconds from the first record produced to the last CaseRouted read, and the CPU
    seconds the service spent in that time."""
    consumer = AIOKafkaConsumer(
        prefix + CASE_ROUTED,
        **kafka_options(kafka),
        auto_offset_reset="earliest",
        group_id=f"{prefix}bench",
    )
    await consumer.start()
    producer = EventProducer(bootstrap_servers=kafka, client_id="benchmark")
    await producer.start()
    try:
        records = [encode(e, topic=prefix + CASE_RECEIVED) for e in cases]
        while not consumer.assignment():  # the reader is ready before the clock starts
            await consumer.getmany(timeout_ms=100)
        started = time.perf_counter()  # from the first record produced
        cpu_started = cpu_seconds([service_pid])
        for start in range(0, len(records), 500):
            await producer.send_records(records[start : start + 500])
        seen = 0
        while seen < len(cases):
            batch = await consumer.getmany(timeout_ms=500)
            seen += sum(len(r) for r in batch.values())
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"only {seen} of {len(cases)} routed after 600 s")
        return time.perf_counter() - started, cpu_seconds([service_pid]) - cpu_started
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--preset", default="district")
    args = parser.parse_args()
    stack_settings()
    settings = CommonSettings()
    run = uuid.uuid4().hex[:8]
    prefix, database = f"bench{run}.", f"yiwang_bench_{run}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    asyncio.run(create_topics(bootstrap_servers=settings.kafka_bootstrap_servers, prefix=prefix))
    port = _port()
    KAFKA_USERS.grant(prefix)
    env = {
        **os.environ,
        **KAFKA_USERS.env_of("grid-routing"),
        "DATABASE_URL": settings.database_url.rsplit("/", 1)[0] + f"/{database}",
        "YIWANG_TOPIC_PREFIX": prefix,
        "YIWANG_HTTP_PORT": str(port),
        "YIWANG_LOG_LEVEL": "WARNING",
        "GRID_ROUTING_BOOTSTRAP_PRESET": args.preset,
        "GRID_ROUTING_CHECK_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "yiwang.grid_routing.app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/grid-sets", timeout=1).json():
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        time.sleep(2)  # the index loads right after the grid set is stored
        cases = _cases(args.preset, args.cases, run)
        elapsed, cpu = asyncio.run(
            _measure(settings.kafka_bootstrap_servers, prefix, cases, process.pid)
        )
        print(
            f"{args.cases} cases routed topic to topic in {elapsed:.2f} s: "
            f"{args.cases / elapsed:,.0f} cases/s (preset {args.preset}); the service used "
            f"{cpu:.2f} s CPU ({cpu / elapsed:.0%} of one core), "
            f"{cpu / args.cases * 1e6:.0f} µs per case"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        asyncio.run(delete_topics(settings.kafka_bootstrap_servers, prefix))


if __name__ == "__main__":
    main()
