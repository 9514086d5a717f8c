"""Scale-out without loss: two replicas of every service share one database and one set of
consumer groups; under a steady stream of submissions a third replica joins three of them
and one replica of each service leaves (two rebalances mid-stream). Every case still gets
exactly one lead work order, oversight's projection holds every case, and nothing is
dead-lettered."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from support import (
    ServiceProcess,
    create_database,
    drop_database,
    kafka_options,
    new_topic_prefix,
    read_all,
)
from waiting import eventually
from yiwang.common.case import Location, SourceRef
from yiwang.common.departments import Department
from yiwang.common.envelope import decode
from yiwang.common.events import SubmitCase, WorkOrderIssued
from yiwang.common.topics import INTAKE_SUBMISSIONS, TOPICS, department_topic
from yiwang.intake.adapters.signing import signed_submission

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
MODULES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}
CASES, RATE = 360, 20.0  # 18 s of traffic
SYSTEM = "scale-platform"
# Township- and county-tier matters without mediation: each ends in one lead work order.
CATEGORIES = ("road-damage", "streetlight", "price-fraud", "noise", "food-safety")


def replica(name: str, env: dict[str, str], log_dir: Path, n: int) -> ServiceProcess:
    return ServiceProcess(MODULES[name], env=env, log_path=log_dir / f"{name}-{n}.log")


def start_all(replicas: list[ServiceProcess]) -> None:
    with ThreadPoolExecutor(len(replicas)) as pool:
        for started in [pool.submit(r.start, within=180) for r in replicas]:
            started.result()


async def stream(kafka: str, credential: str, *, run: str) -> None:
    rng = random.Random(11)
    producer = AIOKafkaProducer(**kafka_options(kafka))
    await producer.start()
    try:
        for n in range(CASES):
            command = SubmitCase(
                source=SourceRef(system=SYSTEM, external_id=f"{run}-{n}"),
                category=rng.choice(CATEGORIES),
                title="群众反映",
                description="请处理",
                location=Location(lon=rng.uniform(113.21, 113.89), lat=rng.uniform(37.61, 38.19)),
            )
            record = signed_submission(
                command, credential=credential, topic=PREFIX + INTAKE_SUBMISSIONS
            )
            await producer.send(record.topic, value=record.value, key=record.key,
                                headers=record.headers)  # fmt: skip
            await asyncio.sleep(1 / RATE)
        await producer.flush()
    finally:
        await producer.stop()


async def test_replicas_join_and_leave_mid_stream_without_loss_or_duplicates(
    infra: dict[str, str], kafka: str, tmp_path: Path
) -> None:
    database = await create_database(infra["DATABASE_URL"])
    env = {**infra, "DATABASE_URL": database, "YIWANG_TOPIC_PREFIX": PREFIX}
    first = {name: [replica(name, env, tmp_path, n) for n in (1, 2)] for name in MODULES}
    everyone = [r for pair in first.values() for r in pair]
    joining = [replica(n, env, tmp_path, 3) for n in ("grid-routing", "department-dispatch",
                                                      "oversight")]  # fmt: skip
    conn: asyncpg.Connection | None = None
    try:
        # In two waves: ten processes migrating and joining at once crowd two cores.
        await asyncio.to_thread(start_all, [pair[0] for pair in first.values()])
        await asyncio.to_thread(start_all, [pair[1] for pair in first.values()])
        done = first["intake"][0].cli("issue-signing-secret", SYSTEM)
        assert done.returncode == 0, done.stderr
        run = uuid.uuid4().hex[:6]
        traffic = asyncio.create_task(stream(kafka, done.stdout.strip(), run=run))
        await asyncio.sleep(5)
        await asyncio.to_thread(start_all, joining)  # joins: the groups rebalance
        everyone += joining
        await asyncio.sleep(3)
        leaving = [pair[0] for pair in first.values()]
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in leaving))  # and again
        await traffic

        conn = await asyncpg.connect(database)

        async def counts() -> tuple[int, int, int]:
            assert conn is not None
            return (
                await conn.fetchval("SELECT count(*) FROM intake.cases"),
                await conn.fetchval(
                    "SELECT count(*) FROM department_dispatch.work_order WHERE role = 'lead'"
                ),
                await conn.fetchval(
                    "SELECT count(*) FROM oversight.cases WHERE lead_department IS NOT NULL"
                ),
            )

        settled = await eventually(
            counts, until=lambda c: c == (CASES, CASES, CASES), within=180, every=0.5
        )
        assert settled == (CASES, CASES, CASES)

        # On the wire: exactly one lead work order per case (one dispatch round each).
        records = await read_all(kafka, [PREFIX + department_topic(d) for d in Department])
        leads = Counter(
            event.case_id
            for event in (decode(r.value, r.headers).payload for r in records)
            if isinstance(event, WorkOrderIssued) and event.role.value == "lead"
        )
        assert len(leads) == CASES
        assert set(leads.values()) == {1}, leads.most_common(3)

        # Nothing was dead-lettered on the way.
        dead = await read_all(kafka, [PREFIX + t.dead_letter for t in TOPICS if t.consumed],
                              quiet_for=1.0)  # fmt: skip
        assert dead == []
    finally:
        if conn is not None:
            await conn.close()
        for r in everyone:
            r.stop()
        await drop_database(infra["DATABASE_URL"], database)
