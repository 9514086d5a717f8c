"""Kafka ingestion: SubmitCase records from county platforms, signed by the platform (as
intake requires), to cases stored (and CaseReceived in intake's outbox), per second.

    uv run --frozen python benchmarks/intake_kafka.py [--count 5000]

Intake starts first and waits, idle; the records are signed before the clock starts, and
it runs from the first record produced to the moment the last case is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
import uuid

import asyncpg
from harness import (
    ServiceProcess,
    create_database,
    delete_topics,
    drop_database,
    log_path,
    stack_settings,
    unique_prefix,
)
from yiwang.common.case import Location, SourceRef
from yiwang.common.events import SubmitCase
from yiwang.common.producer import EventProducer
from yiwang.common.topic_admin import create_topics
from yiwang.common.topics import INTAKE_SUBMISSIONS
from yiwang.intake.adapters.signing import signed_submission

SYSTEM = "bench-platform"


def commands(count: int, rng: random.Random) -> list[SubmitCase]:
    run = uuid.uuid4().hex[:6]
    return [
        SubmitCase(
            source=SourceRef(system=SYSTEM, external_id=f"{run}-{n}"),
            category=rng.choice(("sanitation", "noise", "illegal-parking", "road-damage")),
            title="群众反映",
            description="演示",
            location=Location(lon=rng.uniform(113.21, 113.89), lat=rng.uniform(37.61, 38.19)),
        )
        for n in range(count)
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    settings = stack_settings()
    prefix = unique_prefix()
    database = await create_database(settings["DATABASE_URL"])
    await create_topics(bootstrap_servers=settings["KAFKA_BOOTSTRAP_SERVERS"], prefix=prefix)
    env = {
        **settings,
        "DATABASE_URL": database,
        "YIWANG_TOPIC_PREFIX": prefix,
        "YIWANG_LOG_LEVEL": "WARNING",
        "YIWANG_ENV": "development",  # the development personal-data key
    }
    service = ServiceProcess("yiwang.intake.app", env=env, log_path=log_path("intake"))
    conn: asyncpg.Connection | None = None
    try:
        await asyncio.to_thread(service.start)  # ready and idle: its consumers have joined
        credential = subprocess.run(
            [sys.executable, "-m", "yiwang.intake.cli", "issue-signing-secret", SYSTEM],
            env=service.env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        conn = await asyncpg.connect(database)
        records = [
            signed_submission(c, credential=credential, topic=prefix + INTAKE_SUBMISSIONS)
            for c in commands(args.count, random.Random(5))
        ]  # signed within the five minutes a signature is good for
        started = time.perf_counter()
        producer = EventProducer(
            bootstrap_servers=settings["KAFKA_BOOTSTRAP_SERVERS"], client_id="bench"
        )
        await producer.start()
        await producer.send_records(records)
        await producer.stop()
        while await conn.fetchval("SELECT count(*) FROM intake.cases") < args.count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        print(
            f"intake Kafka ingestion: {args.count / elapsed:,.0f} submissions/s"
            f" ({args.count} records produced and stored in {elapsed:.1f}s)"
        )
    finally:
        if conn is not None:
            await conn.close()
        service.stop()
        await drop_database(settings["DATABASE_URL"], database)
        await delete_topics(settings["KAFKA_BOOTSTRAP_SERVERS"], prefix)


if __name__ == "__main__":
    asyncio.run(main())
