"""小事不出网格 as oversight sees it, as its own process on the real Kafka, PostgreSQL and
identity provider: grid-routing's lifecycle events (received -> in_grid -> resolved or
routed), published as grid-routing will publish them, give the settled-in-grid share per
micro-grid and township, in the KPIs and the public ledger; a case in the grid is never
overdue, stranded or stagnant, however long the worker takes.

The service's clock is held ten days after the scripted cases were received (a clock
epoch then, running ten million times slower than real time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from service_fixtures import service_under_test
from support import ServiceProcess, bearer, new_topic_prefix, publish_events
from waiting import eventually
from yiwang.common.case import Channel, Priority
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged, Event
from yiwang.common.states import CaseState as S
from yiwang.common.topics import CASE_LIFECYCLE

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
RUN = uuid.uuid4().hex[:6]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 in Shanghai
NOW = T0 + timedelta(days=10)
DAY = "2026-03-02"
GRIDS = {"140399001001001": "140399001", "140399001001002": "140399001",
         "140399002001001": "140399002"}  # fmt: skip

oversight = service_under_test(
    "yiwang.oversight.app",
    prefix=PREFIX,
    env={
        "OVERSIGHT_STRANDED_AFTER_MINUTES": "60",
        "YIWANG_CLOCK_EPOCH": NOW.isoformat(),
        "YIWANG_CLOCK_SPEED": "1e-7",
    },
)


def step(case_id: str, minutes: int, src: S | None, dst: S, grid: str) -> Envelope[Event]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            case_number=f"LZ-{case_id}",
            from_state=src,
            to_state=dst,
            actor="grid-routing" if src is not None else "intake",
            at=T0 + timedelta(minutes=minutes),
            department=Department.URBAN_MANAGEMENT if dst is S.ROUTED else None,
            township_code=GRIDS[grid],
            micro_grid=grid,
            category="sanitation",
            channel=Channel.GRID_WORKER,
            priority=Priority.NORMAL,
        ),
        source="/yiwang/test",
    )


def story(case_id: str, grid: str, end: S | None) -> list[tuple[str, Envelope[Event]]]:
    """Received, a grid task, then settled (resolved), passed up (routed) or still open."""
    steps = [
        step(case_id, 0, None, S.RECEIVED, grid),
        step(case_id, 1, S.RECEIVED, S.IN_GRID, grid),
    ]
    if end is not None:
        steps.append(step(case_id, 120, S.IN_GRID, end, grid))
    return [(CASE_LIFECYCLE, s) for s in steps]


CASES = {
    f"s1-{RUN}": ("140399001001001", S.RESOLVED),
    f"s2-{RUN}": ("140399001001001", S.RESOLVED),
    f"p1-{RUN}": ("140399001001001", S.ROUTED),
    f"s3-{RUN}": ("140399001001002", S.RESOLVED),
    f"p2-{RUN}": ("140399002001001", S.ROUTED),
    f"w1-{RUN}": ("140399002001001", None),  # still with the worker after ten days
}


async def get(url: str, path: str, **params: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, headers=bearer("auditor"), timeout=15) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_settled_in_grid_share_per_grid_and_township(
    oversight: ServiceProcess, kafka: str
) -> None:
    await publish_events(
        kafka, *(e for case_id, (grid, end) in CASES.items() for e in story(case_id, grid, end)),
        prefix=PREFIX,
    )  # fmt: skip
    url = oversight.url

    async def grid_rows() -> dict[str, Any]:
        body = await get(url, "/kpis", **{"from": DAY, "to": DAY, "group_by": "grid"})
        return {row["group"]: row for row in body["rows"]}

    def share(row: dict[str, Any]) -> tuple[int, int]:
        return row["settled_in_grid_share_numerator"], row["settled_in_grid_share_denominator"]

    def complete(rows: dict[str, Any]) -> bool:  # every case in, every grid task ended
        left = sum(row["settled_in_grid_share_denominator"] for row in rows.values())
        return sum(row["cases"] for row in rows.values()) == len(CASES) and left == 5

    rows = await eventually(grid_rows, until=complete)
    assert {grid: share(row) for grid, row in rows.items()} == {
        "140399001001001": (2, 3),
        "140399001001002": (1, 1),
        "140399002001001": (0, 1),
    }
    townships = await get(url, "/kpis", **{"from": DAY, "to": DAY, "group_by": "township"})
    assert {r["group"]: share(r) for r in townships["rows"]} == {
        "140399001": (3, 4),
        "140399002": (0, 1),
    }
    assert share(townships["overall"]) == (3, 5)
    ledger = await get(url, "/ledgers/public", **{"from": DAY, "to": DAY})
    published = {r["group"]: r["settled_in_grid_share"] for r in ledger["rows"]}
    assert published == {"140399001": 0.75, "140399002": 0.0}

    # Ten days in the grid: grid-routing's clock, not a department's. No card, no
    # stranded or stagnant flag, never overdue; the case passed up gets the usual ones.
    waiting = await eventually(
        lambda: get(url, f"/cases/w1-{RUN}"), until=lambda c: c["state"] == "in_grid"
    )
    assert waiting["state"] == "in_grid"
    assert waiting["grid_outcome"] == "in_grid"
    assert waiting["overdue"] is False
    passed_up = await eventually(
        lambda: get(url, f"/cases/p2-{RUN}"), until=lambda c: len(c["alerts"]) > 0
    )
    assert passed_up["grid_outcome"] == "passed_up"
    assert "stranded" in {a["kind"] for a in passed_up["alerts"]}
    assert (await get(url, f"/cases/w1-{RUN}"))["alerts"] == []
    overdue = await get(url, "/cases", overdue="true", township="140399002")
    assert f"w1-{RUN}" not in {c["case_id"] for c in overdue["cases"]}
