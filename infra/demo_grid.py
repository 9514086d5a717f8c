"""Demo traffic in the grid (小事不出网格) for `make run`: the district's grid workers who
have accounts in the demo realm (infra/devstack/keycloak_realm.py) report small matters in
their own micro-grids (信息员), sign in to the grid-worker API, take their tasks and settle
most on the spot (代办员), passing the rest up (上报) to the township department. The
tasks of the workers without an account pass up by themselves at the grid deadline."""

from __future__ import annotations

import asyncio
import random
from functools import cache
from typing import Any

import httpx
import shapely
from demo_people import People
from devstack.keycloak_realm import grid_workers
from yiwang.grid_routing.domain.generator import generate_county

SMALL_MATTERS = {"sanitation": "楼道垃圾堆积", "street-vending": "占道经营", "illegal-parking": "车辆乱停放",
                 "elderly-care": "独居老人需要帮助"}  # fmt: skip
SETTLED_NOTES = ("已当场处理完毕", "已协调物业清理", "已劝离并宣传相关规定", "已上门帮扶")
PASS_UP_REASONS = ("需要执法车辆和人员", "当事人拒不配合，需部门处置", "超出网格处置能力")
SETTLE_SHARE = 0.75
REPORT_SHARE = 0.5


@cache
def workers_with_accounts(preset: str = "district") -> list[dict[str, Any]]:
    """A synthetic county's workers with an account, and a point inside each micro-grid
    they serve."""
    admin = generate_county(preset)["admin"]["features"]
    polygons = {f["properties"]["code"]: f["geometry"] for f in admin}
    workers = []
    for row in grid_workers():
        if row["micro_grids"].split(";")[0] not in polygons:
            continue
        points = []
        for code in row["micro_grids"].split(";"):
            point = shapely.point_on_surface(shapely.geometry.shape(polygons[code]))
            points.append((code, round(point.x, 6), round(point.y, 6)))
        workers.append({"worker_id": row["worker_id"], "points": points})
    return workers


async def work_the_grid(
    *,
    intake_url: str,
    routing_url: str,
    api_key: str,
    every_seconds: float,
    seed: int = 19,
    preset: str = "district",
) -> None:
    """Now and then a grid worker reports a small matter in their micro-grid through the
    county platform (the grid-worker channel), and every worker works their open tasks."""
    rng = random.Random(seed)
    people = People()
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            await asyncio.sleep(every_seconds)
            for worker in workers_with_accounts(preset):
                try:
                    if rng.random() < REPORT_SHARE:
                        await report_small_matter(
                            http, rng, worker, intake_url=intake_url, api_key=api_key
                        )
                    await work_tasks(http, rng, people, worker, routing_url=routing_url)
                except (httpx.HTTPError, ValueError) as exc:
                    print(f"demo traffic: grid work failed: {exc}", flush=True)


async def report_small_matter(
    http: httpx.AsyncClient,
    rng: random.Random,
    worker: dict[str, Any],
    *,
    intake_url: str,
    api_key: str,
) -> str:
    """The case id of a small matter the worker reports (信息员) in their micro-grid."""
    code, lon, lat = rng.choice(worker["points"])
    category = rng.choice(list(SMALL_MATTERS))
    body = {
        "channel": "grid_worker",
        "category": category,
        "title": SMALL_MATTERS[category],
        "description": "演示数据：网格员巡查发现。",
        "location": {"lon": lon, "lat": lat},
        "grid_worker": {"worker_id": worker["worker_id"], "micro_grid_hint": code},
    }
    response = await http.post(f"{intake_url}/v1/cases", json=body, headers={"X-API-Key": api_key})
    response.raise_for_status()
    return str(response.json()["case_id"])


async def work_tasks(
    http: httpx.AsyncClient,
    rng: random.Random,
    people: People,
    worker: dict[str, Any],
    *,
    routing_url: str,
) -> None:
    me = await people.headers(http, worker["worker_id"])
    tasks = (await http.get(f"{routing_url}/grid-tasks", headers=me)).json()["tasks"]
    for task in tasks:
        url = f"{routing_url}/grid-tasks/{task['task_id']}"
        if task["status"] == "assigned":
            (await http.post(f"{url}/acknowledge", headers=me)).raise_for_status()
        elif rng.random() < SETTLE_SHARE:
            body = {"note": rng.choice(SETTLED_NOTES),
                    "photo_urls": [f"https://photos.example/{task['task_id']}.jpg"]}  # fmt: skip
            await http.post(f"{url}/settle", json=body, headers=me)
        else:
            await http.post(f"{url}/pass-up", json={"reason": rng.choice(PASS_UP_REASONS)},
                            headers=me)  # fmt: skip
