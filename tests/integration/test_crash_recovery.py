"""A service killed mid-stream loses nothing and duplicates nothing visible.

department-dispatch is killed half-way through a burst of routing decisions: right after
a poll's database transaction committed (dispatch takes routing decisions a poll at a
time, up to 500) and before its offsets were committed to Kafka (the crash point exits
the process as SIGKILL would), with the outbox relay somewhere in its cycle.
Started again on the same database, every case must end with exactly one work order per
department in its tables, and on the department topics every work order appears, with any
repeat carrying the same CloudEvents id (which consumers' inboxes absorb).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from support import (
    ServiceProcess,
    create_database,
    drop_database,
    new_topic_prefix,
    publish_events,
    read_all,
)
from waiting import eventually
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, decode
from yiwang.common.events import CaseRouted, HandlingTier, MicroGridRef
from yiwang.common.faults import CRASH_EXIT_CODE
from yiwang.common.topics import CASE_ROUTED, department_topic

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
CASES = 3000
LEAD, ASSISTING = Department.URBAN_MANAGEMENT, Department.MARKET_SUPERVISION


def routed(case_id: str) -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        case=CaseFacts(
            case_id=case_id,
            case_number=f"YQ-{case_id}",
            category="street-vending",
            title="占道经营",
            description="早市摊贩占用人行道",
            channel=Channel.GRID_WORKER,
            location=Location(lon=113.56, lat=37.86),
        ),
        micro_grid=MicroGridRef(
            code="MG-1",
            name="一",
            grid_code="G-1",
            community_code="C-1",
            township_code="140399001",
            county_code="140399",
        ),
        department_units={LEAD: "um-1", ASSISTING: "ms-1"},
        lead_department=LEAD,
        assisting_departments=(ASSISTING,),
        tier=HandlingTier.TOWNSHIP,
        sla_class="normal",
        rule_id="matrix/street-vending",
        reason="test",
    )


async def work_orders(database: str) -> int:
    conn = await asyncpg.connect(database)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM department_dispatch.work_order"))
    finally:
        await conn.close()


async def test_killed_mid_stream_then_restarted_loses_and_duplicates_nothing(
    infra: dict[str, str], kafka: str, tmp_path: Path
) -> None:
    database = await create_database(infra["DATABASE_URL"])
    env = {**infra, "DATABASE_URL": database, "YIWANG_TOPIC_PREFIX": PREFIX}

    def dispatch(name: str) -> ServiceProcess:
        return ServiceProcess(
            "yiwang.department_dispatch.app", env=env, log_path=tmp_path / f"{name}.log"
        )

    crashing = ServiceProcess(
        "yiwang.department_dispatch.app",
        # The third poll of up to 500: about half the burst.
        env={**env, "YIWANG_CRASH_AT": "consumer.after_batch:3"},
        log_path=tmp_path / "first.log",
    )
    second = dispatch("second")
    try:
        # A first run makes the schema and joins the group; the burst then waits on the
        # topic for the run that crashes while working through it.
        await asyncio.to_thread(dispatch("setup").start().stop)
        case_ids = [f"crash-{n:04d}" for n in range(CASES)]
        await publish_events(
            kafka,
            *[(CASE_ROUTED, Envelope(payload=routed(c), source="/yiwang/test")) for c in case_ids],
            prefix=PREFIX,
        )
        exit_code = await asyncio.to_thread(lambda: crashing.launch().wait(timeout=120))
        assert exit_code == CRASH_EXIT_CODE
        part_way = await work_orders(database)
        assert part_way < 2 * CASES, "the burst was done before the crash: make it bigger"

        await asyncio.to_thread(second.start)
        done = await eventually(
            lambda: work_orders(database), until=lambda n: n >= 2 * CASES, within=90
        )
        assert done == 2 * CASES

        conn = await asyncpg.connect(database)
        try:
            per_case = await conn.fetch(
                "SELECT case_id, count(*) AS n, count(DISTINCT department) AS d"
                " FROM department_dispatch.work_order GROUP BY case_id"
            )
        finally:
            await conn.close()
        assert len(per_case) == CASES
        assert {(r["n"], r["d"]) for r in per_case} == {(2, 2)}

        async def published() -> list[Any]:
            topics = [PREFIX + department_topic(LEAD), PREFIX + department_topic(ASSISTING)]
            return [
                decode(r.value, r.headers) for r in await read_all(kafka, topics, quiet_for=1.5)
            ]

        envelopes = await eventually(
            published, until=lambda e: len({x.id for x in e}) >= 2 * CASES, within=60
        )
        ids_by_order = {(e.payload.case_id, e.payload.department): e.id for e in envelopes}
        assert len(ids_by_order) == 2 * CASES  # every work order reached its department
        assert len({e.id for e in envelopes}) == 2 * CASES  # a repeat, if any, is the same event
    finally:
        crashing.stop()
        second.stop()
        await drop_database(infra["DATABASE_URL"], database)
