"""grid-routing's set-based writes on real PostgreSQL: a batch of receipts in one
transaction (inbox, cases, decisions, outbox), and the case rows read back as written."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib.resources import files

import asyncpg
import pytest
import shapely
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived
from yiwang.common.postgres import open_pool
from yiwang.common.postgres.migrations import (
    apply_migrations,
    common_migrations,
    load_migrations,
)
from yiwang.common.states import CaseState
from yiwang.grid_routing.adapters.routed_cases import (
    PostgresRoutedCaseRepository,
    routing_history,
)
from yiwang.grid_routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import load_default_matrix
from yiwang.grid_routing.handlers import routing

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def index() -> GridIndex:
    network, _ = check_grid_set(generate_county("tiny").items())
    return GridIndex(network, version=1)


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    own = load_migrations(
        source="grid-routing", directory=files("yiwang.grid_routing") / "migrations"
    )
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=[*common_migrations(), *own])
    finally:
        await conn.close()
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    yield pool
    await pool.close()


def receipt(index: GridIndex, case_id: str, category: str, position: int) -> Envelope[CaseReceived]:
    point = shapely.point_on_surface(index.polygons[position])
    facts = CaseFacts(
        case_id=case_id,
        case_number=f"YQ-{case_id}",
        category=category,
        title="t",
        description="d",
        channel=Channel.HOTLINE,
        location=Location(lon=point.x, lat=point.y),
    )
    payload = CaseReceived(case_id=case_id, case=facts, received_at=NOW)
    return Envelope(payload=payload, source="/test")


async def test_a_batch_is_written_set_based_and_reads_back(
    pool: asyncpg.Pool, index: GridIndex
) -> None:
    food = receipt(index, "c-food", "food-safety", 9)  # assisted by health
    gas = receipt(index, "c-gas", "gas-leak", 4)
    resent = dataclasses.replace(gas, id="another-event-id")
    batch = [food, gas, gas, resent]

    async def route(envelopes: list[Envelope[CaseReceived]]) -> list[str]:
        uow = PostgresRoutingUnitOfWork(pool, source="/yiwang/grid-routing", clock=ManualClock(NOW))
        return await routing.route_received_cases(
            uow=uow,
            index=index,
            matrix=load_default_matrix(),
            clock=ManualClock(NOW),
            envelopes=envelopes,
        )

    assert await route(batch) == ["c-food", "c-gas"]
    assert await route(batch) == []  # the whole poll redelivered
    # Sent again under a new event id in a later poll: a first delivery of a routed case.
    assert await route([dataclasses.replace(gas, id="a-third-event-id"), food]) == []
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 4
        topics = await conn.fetch("SELECT topic FROM outbox ORDER BY id")
    assert [r["topic"] for r in topics] == ["case.routed.v1", "case.lifecycle.v1"] * 2

    [decision] = await routing_history(pool, "c-food")
    assert decision["assisting_departments"] == [Department.HEALTH.value]
    assert decision["excluded_departments"] == []
    assert decision["department_units"] == {
        d.value: u for d, u in index.units_of(index.micro_grid_refs[9].code).items()
    }
    assert (decision["trigger"], decision["attempt"], decision["decided_at"]) == (
        "received",
        1,
        NOW,
    )

    async with pool.acquire() as conn, conn.transaction():
        cases = PostgresRoutedCaseRepository(conn)
        known = await cases.get_many(["c-food", "c-gas", "c-none"])
        assert set(known) == {"c-food", "c-gas"}
        assert known["c-gas"].received == gas.payload
        assert (known["c-gas"].state, known["c-gas"].attempts) == (CaseState.ROUTED, 1)
        returned = known["c-gas"].returned_by(Department.EMERGENCY_MANAGEMENT, return_count=1)
        twice = returned.returned_by(Department.UTILITIES, return_count=2)
        await cases.save_many([twice])
        again = await cases.get("c-gas")
        assert again is not None
        assert again.excluded == (Department.EMERGENCY_MANAGEMENT, Department.UTILITIES)
        assert (again.state, again.returns) == (CaseState.RETURNED, 2)
