"""The steps users take, through public interfaces only: a resident or grid worker on
intake's API, a department replying, an inspector reading oversight's API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied, WorkOrderIssued
from yiwang.common.topics import department_topic

from journeys.observer import Wire
from journeys.system import County

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def locate(county: County, lon: float, lat: float) -> dict[str, Any]:
    """grid-routing's answer for a point: the micro-grid (codes up to the county) and units."""
    async with county.client("grid-routing") as client:
        response = await client.get("/locate", params={"lon": lon, "lat": lat})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def submit(county: County, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with county.intake() as client:
        response = await client.post("/v1/cases", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def intake_case(county: County, ref: str) -> dict[str, Any]:
    async with county.intake() as client:
        response = await client.get(f"/v1/cases/{ref}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def oversight_case(
    county: County,
    case_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda c: True,
    *,
    within: float = 30,
) -> dict[str, Any]:
    """Oversight's view of a case, once `until` holds for it."""
    body: dict[str, Any] = {}
    async with county.client("oversight") as client:
        for _ in range(int(within / 0.2)):
            response = await client.get(f"/cases/{case_id}")
            if response.status_code == 200:
                body = response.json()
                if until(body):
                    return body
            await asyncio.sleep(0.2)
    raise AssertionError(f"oversight's case {case_id} never matched; last seen: {body}")


def states(case: dict[str, Any]) -> list[str]:
    return [e["to_state"] for e in case["timeline"] if e["kind"] == "state_changed"]


def local_today(now: datetime | None = None) -> str:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date().isoformat()


async def kpis(county: County, group_by: str, *, day: str | None = None) -> dict[str, Any]:
    """Oversight's KPI rows by group for the cohort received on `day` (local) or yesterday+today."""
    today = day or local_today()
    start = day or (datetime.fromisoformat(today) - timedelta(days=1)).date().isoformat()
    async with county.client("oversight") as client:
        response = await client.get(
            "/kpis", params={"from": start, "to": today, "group_by": group_by}
        )
    assert response.status_code == 200, response.text
    return {row["group"]: row for row in response.json()["rows"]}


def rate(rows: dict[str, Any], group: str, kpi: str) -> tuple[int, int]:
    """(numerator, denominator) of one KPI for one group; (0, 0) when the group has no row."""
    row = rows.get(group)
    if row is None:
        return (0, 0)
    return (row[f"{kpi}_numerator"], row[f"{kpi}_denominator"])


async def work_orders(
    wire: Wire, department: str, case_id: str, count: int = 1, *, within: float = 30
) -> list[WorkOrderIssued]:
    """The work orders (not cancellations) a department has received for a case."""
    found = await wire.wait(
        dept_topic(department),
        case_id,
        lambda events: len(_orders(events)) >= count,
        within=within,
        what=f"{count} work order(s) for {department}",
    )
    return _orders(found)


def dept_topic(department: str) -> str:
    return department_topic(Department(department))


def _orders(events: list[Any]) -> list[WorkOrderIssued]:
    return [e for e in events if isinstance(e, WorkOrderIssued)]


def reply(order: WorkOrderIssued, kind: str, **fields: Any) -> DepartmentReplied:
    return DepartmentReplied(
        case_id=order.case_id,
        work_order_id=order.work_order_id,
        reply_id=f"r-{uuid.uuid4().hex[:12]}",
        kind=kind,  # type: ignore[arg-type]
        **fields,
    )


def reply_json(order: WorkOrderIssued, kind: str, **fields: Any) -> dict[str, Any]:
    return reply(order, kind, **fields).model_dump(mode="json")


async def reply_over_http(
    county: County, principal: str, order: WorkOrderIssued, kind: str, **fields: Any
) -> dict[str, Any]:
    async with county.client(
        "department-dispatch", Authorization=f"Bearer {county.dispatch_keys[principal]}"
    ) as client:
        response = await client.post("/replies", json=reply_json(order, kind, **fields))
    assert response.status_code == 200, f"{kind} by {principal}: {response.text}"
    return dict(response.json())


async def lifecycle_reaches(wire: Wire, case_id: str, state: str, *, within: float = 30) -> None:
    await wire.wait(
        "case.lifecycle.v1",
        case_id,
        lambda events: any(getattr(e, "to_state", None) == state for e in events),
        within=within,
        what=f"case.lifecycle.v1 -> {state}",
    )


def report(channel: str, category: str, point: tuple[float, float], **extra: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "category": category,
        "title": f"{category} 旅程测试",
        "description": f"端到端旅程：{category}",
        "location": {"lon": point[0], "lat": point[1]},
        "reporter": {"name": "王五", "phone": "13800001111"},
        **extra,
    }


async def open311_request(county: County, number: str) -> dict[str, Any]:
    async with county.client("intake") as client:
        response = await client.get(f"/open311/v2/requests/{number}.json")
    assert response.status_code == 200, response.text
    return dict(response.json()[0])


async def open311_shows(
    county: County, number: str, agency: str, note_start: str, *, within: float = 30
) -> dict[str, Any]:
    request: dict[str, Any] = {}
    for _ in range(int(within / 0.2)):
        request = await open311_request(county, number)
        if request["agency_responsible"] == agency and request["status_notes"].startswith(
            note_start
        ):
            return request
        await asyncio.sleep(0.2)
    raise AssertionError(f"Open311 never showed {agency} / {note_start!r}: {request}")


async def mediation_step(
    county: County, mediation_id: str, action: str, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    async with county.client("mediation") as client:
        response = await client.post(f"/mediations/{mediation_id}/{action}", json=body)
    assert response.status_code == status, f"{action}: {response.text}"
    return dict(response.json())


# Tokens handed to residents, by case: a re-handled case's new resolution has a new one.
_USED_TOKENS: dict[str, set[str]] = {}


async def evaluation_token(county: County, case_id: str, *, within: float = 30) -> str:
    """The resident's one-time token for the case's latest resolution, as the platform the
    case came from reads it from intake to hand it on (docs/security.md). After a
    re-handling, intake shows the used token until the new invitation reaches it."""
    seen: dict[str, Any] = {}
    used = _USED_TOKENS.setdefault(case_id, set())
    for _ in range(int(within / 0.2)):
        seen = await intake_case(county, case_id)
        evaluation = seen.get("evaluation") or {}
        if evaluation.get("token") and evaluation["token"] not in used:
            used.add(str(evaluation["token"]))
            return str(evaluation["token"])
        await asyncio.sleep(0.2)
    raise AssertionError(f"intake never showed an evaluation token for {case_id}: {seen}")


async def evaluate(county: County, case_id: str, score: int) -> dict[str, Any]:
    """A resident evaluates a resolved case with the token their channel handed them: no
    credential, only the token."""
    token = await evaluation_token(county, case_id)
    async with httpx.AsyncClient(base_url=county.url("oversight"), timeout=15) as client:
        response = await client.post(
            f"/cases/{case_id}/evaluations", json={"score": score, "token": token}
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def refused_reply(
    county: County, principal: str, order: WorkOrderIssued, kind: str, **fields: Any
) -> dict[str, Any]:
    """A reply that must be refused: the problem details dispatch answered with."""
    async with county.client(
        "department-dispatch", Authorization=f"Bearer {county.dispatch_keys[principal]}"
    ) as client:
        response = await client.post("/replies", json=reply_json(order, kind, **fields))
    assert response.status_code >= 400, f"{kind} by {principal} was accepted: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    return {"status": response.status_code, **response.json()}


async def rule(
    county: County, case_id: str, department: str, reason: str, *, principal: str
) -> Any:
    """The county hub's final ruling (终审) on who handles a case."""
    async with county.client(
        "department-dispatch", Authorization=f"Bearer {county.dispatch_keys[principal]}"
    ) as client:
        return await client.post(
            f"/cases/{case_id}/ruling", json={"department": department, "reason": reason}
        )


async def lifecycle_note(wire: Wire, case_id: str, state: str, *, within: float = 60) -> str:
    """The note of the case's first lifecycle entry into `state`."""
    found = await wire.wait(
        "case.lifecycle.v1",
        case_id,
        lambda events: any(getattr(e, "to_state", None) == state for e in events),
        within=within,
        what=f"case.lifecycle.v1 -> {state}",
    )
    return next(e.note or "" for e in found if getattr(e, "to_state", None) == state)
