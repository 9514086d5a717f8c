"""Small matters stay in the grid (小事不出网格): journeys across the five services, each
its own process, on real Kafka, PostgreSQL and the identity provider. Grid workers sign in
as themselves (the synthetic roster's accounts) and act through grid-routing's API.

- a small matter settled on the spot by its micro-grid's worker, evaluated and closed;
- a small matter passed up (上报) by the worker and handled by the township department;
- a grid task nobody settles passes up by itself at its grid deadline;
- a settlement the resident is unsatisfied with leaves the grid for the department.

The services share a fast clock (a demo hour each real second), so the grid deadline (one
working day) passes within a minute; the other journeys act at once.
"""

from __future__ import annotations

import importlib
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from journeys.observer import Wire
from journeys.steps import (
    evaluate,
    lifecycle_note,
    lifecycle_reaches,
    locate,
    oversight_case,
    reply_over_http,
    report,
    states,
    submit,
    work_orders,
)
from journeys.system import County, county_fixtures
from yiwang.common.events import GridTaskAssigned, GridTaskPassedUp, WorkOrderIssued
from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster

pytestmark = pytest.mark.integration

SPEED = 3600
MONDAY = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Mon 30 Nov 2026 00:00 in Shanghai
UM = "urban-management"
ROAD = (113.5727, 37.8515)  # township 2
FOOD = (113.5543, 37.8545)  # township 1
LAMP = (113.5635, 37.8605)  # township 2
YARD = (113.5575, 37.8667)  # township 1
ROSTER = synthetic_roster(generate_county("tiny")["admin"])
INFRA = Path(__file__).resolve().parents[2] / "infra"


def fast_clock() -> dict[str, str]:
    now = datetime.now(UTC)
    epoch = now + (MONDAY - now) / (1 - SPEED)  # demo time reads MONDAY now
    return {
        "YIWANG_CLOCK_SPEED": str(SPEED),
        "YIWANG_CLOCK_EPOCH": epoch.isoformat(),
        "YIWANG_GRID_DEADLINE": "1 working_days",
        "GRID_ROUTING_GRID_SWEEP_SECONDS": "0.5",
        # A demo hour passes every second: hand-offs take a few demo minutes here.
        "OVERSIGHT_STRANDED_AFTER_MINUTES": "6000",
    }


county, wire = county_fixtures("grid", extra_env=fast_clock, departments=(UM,))


async def grid_task(county: County, wire: Wire, point: tuple[float, float]) -> GridTaskAssigned:
    """A sanitation report (a grid-tier matter) at `point`, and the task it became."""
    case_id = (await submit(county, report("portal", "sanitation", point)))["case_id"]
    [assigned] = await wire.wait(
        "grid.tasks.v1", case_id, what="the grid task", within=30
    )  # fmt: skip
    assert isinstance(assigned, GridTaskAssigned)
    here = (await locate(county, *point))["micro_grid"]["code"]
    [serving] = [r for r in ROSTER if here in r["micro_grids"].split(";")]
    assert (assigned.worker_id, assigned.micro_grid.code) == (serving["worker_id"], here)
    return assigned


async def as_worker(
    county: County, worker_id: str, action: str, task_id: str, **body: Any
) -> dict[str, Any]:
    async with county.client("grid-routing", person=worker_id) as client:
        response = await client.post(f"/grid-tasks/{task_id}/{action}", json=body or None)
    assert response.status_code == 200, f"{action} by {worker_id}: {response.text}"
    return dict(response.json())


async def handle_and_resolve(county: County, order: WorkOrderIssued) -> None:
    await reply_over_http(county, UM, order, "acknowledge")
    await reply_over_http(county, UM, order, "resolve", result="已清运")


async def test_a_small_matter_settled_in_the_grid(county: County, wire: Wire) -> None:
    task = await grid_task(county, wire, YARD)
    worker = task.worker_id
    async with county.client("grid-routing", person=worker) as client:
        listed = (await client.get("/grid-tasks")).json()
    assert task.task_id in [t["task_id"] for t in listed["tasks"]]
    await as_worker(county, worker, "acknowledge", task.task_id)
    await as_worker(county, worker, "settle", task.task_id, note="垃圾已清运",
                    photo_urls=["https://photos.example/yard.jpg"])  # fmt: skip

    await oversight_case(county, task.case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, task.case_id, 5)
    closed = await oversight_case(county, task.case_id, lambda c: c["state"] == "closed")
    assert states(closed) == ["received", "in_grid", "resolved", "evaluated", "closed"]
    assert "settled on the spot" in await lifecycle_note(wire, task.case_id, "resolved")
    assert wire.events(f"dept.{UM}.cases.v1", task.case_id) == []  # no work order


async def test_a_small_matter_passed_up_and_handled_by_the_department(
    county: County, wire: Wire
) -> None:
    task = await grid_task(county, wire, LAMP)
    await as_worker(county, task.worker_id, "pass-up", task.task_id, reason="需要环卫车辆清运")
    [order] = await work_orders(wire, UM, task.case_id)
    assert order.case_id == task.case_id
    note = await lifecycle_note(wire, task.case_id, "routed")
    assert "需要环卫车辆清运" in note
    await handle_and_resolve(county, order)
    await oversight_case(county, task.case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, task.case_id, 4)
    closed = await oversight_case(county, task.case_id, lambda c: c["state"] == "closed")
    assert states(closed) == ["received", "in_grid", "routed", "dispatched", "acknowledged",
                              "resolved", "evaluated", "closed"]  # fmt: skip


async def test_a_grid_task_nobody_settles_passes_up_by_itself(county: County, wire: Wire) -> None:
    task = await grid_task(county, wire, FOOD)
    found = await wire.wait(
        "grid.tasks.v1",
        task.case_id,
        lambda events: any(isinstance(e, GridTaskPassedUp) for e in events),
        within=120,
        what="the grid task passed up at its deadline",
    )
    passed_up = [e for e in found if isinstance(e, GridTaskPassedUp)]
    assert len(passed_up) == 1, found
    [passed] = passed_up
    assert passed.timed_out
    assert "grid deadline" in await lifecycle_note(wire, task.case_id, "routed")
    # The department's clock started at receipt, as oversight measures it: the day in the
    # grid counts, so its order may be escalated at once; the first one is the township's.
    first, *_ = await work_orders(wire, UM, task.case_id)
    assert first.command_level == "township"
    await lifecycle_reaches(wire, task.case_id, "dispatched")


async def test_an_unsatisfied_resident_sends_a_settlement_to_the_department(
    county: County, wire: Wire
) -> None:
    task = await grid_task(county, wire, ROAD)
    await as_worker(county, task.worker_id, "settle", task.task_id, note="已处理")
    await oversight_case(county, task.case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, task.case_id, 1)
    [reopened] = await wire.wait("case.reopened.v1", task.case_id)
    [order] = await work_orders(wire, UM, task.case_id)
    assert "unsatisfied" in await lifecycle_note(wire, task.case_id, "routed")
    # A re-handling (不满意重办) with its clock restarted at the reopening.
    assert order.rehandling == 1
    assert order.deadline > reopened.reopened_at
    await handle_and_resolve(county, order)
    await oversight_case(
        county,
        task.case_id,
        lambda c: states(c).count("resolved") == 2 and c["state"] == "resolved",
    )
    await evaluate(county, task.case_id, 5)
    closed = await oversight_case(county, task.case_id, lambda c: c["state"] == "closed")
    assert states(closed)[:5] == ["received", "in_grid", "resolved", "evaluated", "routed"]


async def test_the_demo_reports_small_matters_and_works_the_tasks(
    county: County, wire: Wire
) -> None:
    """make run's grid workers (infra/demo_grid.py), here on the tiny county."""
    sys.path.insert(0, str(INFRA))
    demo_grid = importlib.import_module("demo_grid")
    people = importlib.import_module("demo_people").People()
    worker = demo_grid.workers_with_accounts("tiny")[0]
    rng = random.Random(1)
    async with httpx.AsyncClient(timeout=15) as http:
        case_id = await demo_grid.report_small_matter(
            http, rng, worker, intake_url=county.url("intake"), api_key=county.intake_key
        )
        [assigned] = await wire.wait("grid.tasks.v1", case_id, what="the demo's grid task")
        assert assigned.worker_id == worker["worker_id"]
        for _ in range(2):  # acknowledged, then settled or passed up
            await demo_grid.work_tasks(
                http, rng, people, worker, routing_url=county.url("grid-routing")
            )
    found = await wire.wait("case.lifecycle.v1", assigned.case_id,
                            lambda events: events[-1].to_state in ("resolved", "routed"))  # fmt: skip
    assert found[-1].from_state == "in_grid"
    assert "(informant and agent)" in (found[-1].note or "")


async def test_a_grid_worker_reports_as_themselves_and_settles_it(
    county: County, wire: Wire
) -> None:
    """信息员 and 代办员: the worker's own report, signed in, becomes their own task."""
    worker = ROSTER[5]
    micro_grid = worker["micro_grids"].split(";")[0]
    body = report("grid_worker", "sanitation", YARD)
    body["location"] = {"micro_grid_hint": micro_grid}
    async with county.client("intake", person=worker["worker_id"]) as client:
        as_other = {**body, "grid_worker": {"worker_id": ROSTER[6]["worker_id"]}}
        refused = await client.post("/v1/cases", json=as_other)
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["field"] == "grid_worker.worker_id"
        mine = {**body, "grid_worker": {"worker_id": worker["worker_id"]}}
        answer = await client.post("/v1/cases", json=mine)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]
    [task] = await wire.wait("grid.tasks.v1", case_id, what="the worker's own task")
    assert (task.worker_id, task.informant) == (worker["worker_id"], worker["worker_id"])
    await as_worker(county, worker["worker_id"], "settle", task.task_id, note="顺手清理")
    note = await lifecycle_note(wire, case_id, "resolved")
    assert "(informant and agent)" in note


async def test_a_dispute_is_mediated_at_the_grid_rung_by_the_roster_worker(
    county: County, wire: Wire
) -> None:
    """调解员: the micro-grid's worker on the roster, not a generated name."""
    body = report("hotline", "neighbour-dispute", LAMP, attributes={"parties_count": "2"},
                  hotline={"call_id": "c-grid-1", "operator_id": "op-5"})  # fmt: skip
    case_id = (await submit(county, body))["case_id"]
    await lifecycle_reaches(wire, case_id, "in_mediation")
    here = (await locate(county, *LAMP))["micro_grid"]["code"]
    [serving] = [r for r in ROSTER if here in r["micro_grids"].split(";")]
    async with county.client("mediation") as client:
        [found] = (await client.get("/mediations", params={"case_id": case_id})).json()
    assert (found["level"], found["mediator_id"]) == ("grid", serving["worker_id"])
