"""Department-dispatch takes a poll of routing decisions in one transaction and a few
statements on PostgreSQL: the same decisions, redelivered, re-routed within a poll and
cut into polls of any size, leave what taking them one at a time leaves: cases, work
orders and their events, each once."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from support import service_schemas
from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted, HandlingTier
from yiwang.common.postgres import open_pool
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.app import DEFINITION
from yiwang.department_dispatch.handlers import dispatch_routed_case, dispatch_routed_cases

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
UM, EM, CA = (
    Department.URBAN_MANAGEMENT,
    Department.EMERGENCY_MANAGEMENT,
    Department.CIVIL_AFFAIRS,
)


def decision(case_id: str, attempt: int, lead: Department, **fields: Any) -> Envelope[Any]:
    return Envelope(
        payload=CaseRouted(
            case_id=case_id,
            case=CaseFacts(
                case_id=case_id,
                case_number=f"LZ-{case_id}",
                category="sanitation",
                title="垃圾",
                description="垃圾未清运",
                channel=Channel.HOTLINE,
                priority=Priority.NORMAL,
                location=Location(address="东城街道 7 号"),
                received_at=T0,
            ),
            micro_grid=None,
            lead_department=lead,
            assisting_departments=fields.pop("assisting", (CA,)),
            tier=HandlingTier.TOWNSHIP,
            sla_class="general",
            rule_id="r1",
            reason="matrix",
            attempt=attempt,
            **fields,
        ),
        source="/t",
        time=T0 + timedelta(minutes=attempt),
    )


def decisions() -> list[Envelope[Any]]:
    """Each case routed; every third re-routed to another lead; every fifth's first
    decision delivered again under a new event id; two disputes for mediation."""
    made: list[Envelope[Any]] = []
    for n in range(30):
        case_id = f"c{n:02d}"
        made.append(decision(case_id, 1, UM))
        if n % 5 == 0:
            made.append(decision(case_id, 1, UM))  # the same decision, a new event
        if n % 3 == 0:
            made.append(decision(case_id, 2, EM, assisting=()))
    made += [decision("d1", 1, UM, to_mediation=True), decision("d2", 1, UM, to_mediation=True)]
    return made


@pytest.fixture
async def schemas(database_url: str) -> AsyncIterator[tuple[str, ...]]:
    async with service_schemas(database_url, DEFINITION) as names:
        yield names


async def what_is_left(pool: asyncpg.Pool) -> dict[str, Any]:
    cases = [
        {k: v for k, v in dict(r).items() if k != "updated_at"}
        for r in await pool.fetch("SELECT * FROM dispatch_case ORDER BY case_id")
    ]
    orders = [
        dict(r)
        for r in await pool.fetch(
            "SELECT case_id, department, role, round, status, deadline, response_due"
            " FROM work_order ORDER BY 1, 4, 2"
        )
    ]
    events: Counter[tuple[str, str, str]] = Counter()
    for row in await pool.fetch("SELECT topic, value FROM outbox ORDER BY id"):
        value = json.loads(row["value"])
        detail = value.get("to_state") or value.get("department") or ""
        events[(row["topic"], value["case_id"], detail)] += 1
    return {"cases": cases, "orders": orders, "events": sorted(events.items())}


async def test_a_poll_at_once_leaves_what_one_at_a_time_leaves(
    database_url: str, schemas: tuple[str, ...]
) -> None:
    rng = random.Random(18)
    clock = ManualClock(T0 + timedelta(minutes=10))
    one_schema, batch_schema = schemas
    one_pool = await open_pool(dsn=database_url, schema=one_schema, application_name="t-one")
    batch_pool = await open_pool(dsn=database_url, schema=batch_schema, application_name="t-b")
    try:

        def uow(pool: asyncpg.Pool) -> PostgresDispatchUnitOfWork:
            return PostgresDispatchUnitOfWork(pool, source="/yiwang/dispatch", clock=clock)

        made = decisions()
        for envelope in made:
            await dispatch_routed_case(uow=uow(one_pool), envelope=envelope, clock=clock)
        # Polls of 1 to 40 in the order they came (a case's decisions stay in order, as
        # on its partition), a tenth of them redelivered in a later poll.
        rest = list(made)
        polls: list[list[Envelope[Any]]] = []
        while rest:
            size = rng.randint(1, 40)
            polls.append(rest[:size])
            rest = rest[size:]
        for poll in polls:
            again = rng.sample(poll, len(poll) // 10)
            await dispatch_routed_cases(uow=uow(batch_pool), envelopes=poll + again, clock=clock)

        one, batched = await what_is_left(one_pool), await what_is_left(batch_pool)
        assert len(one["cases"]) == 30  # the disputes are mediation's
        leads = [o for o in one["orders"] if o["role"] == "lead" and o["status"] == "issued"]
        assert len(leads) == 30  # one open lead order per case: the latest round's
        assert any(o["status"] == "cancelled" for o in one["orders"])
        assert batched == one
    finally:
        await one_pool.close()
        await batch_pool.close()
