"""对账: department-dispatch's reconciliation route lists the cases of a period, for auditors and hub
operators only, with 422 naming the field for a bad period."""

from __future__ import annotations

from datetime import datetime

import httpx
from fastapi import FastAPI, Request
from yiwang.common.auth import Actor, Role, Unauthenticated, presented_credential
from yiwang.common.problems import install_problem_details
from yiwang.department_dispatch.adapters.reconciliation import DispatchedCase, DispatchedCases
from yiwang.department_dispatch.entrypoints.http_reconciliation import reconciliation_router

ROLES = {
    "auditor": Role.AUDITOR,
    "hub": Role.HUB_OPERATOR,
    "hotline": Role.HOTLINE_OPERATOR,
    "staff": Role.DEPARTMENT_STAFF,
}


async def authenticate(request: Request) -> Actor:
    name = presented_credential(request)
    if name not in ROLES:
        raise Unauthenticated("a credential is required")
    return Actor(id=name, name=name, roles=frozenset({ROLES[name]}), person=True)


class FakeStore(DispatchedCases):
    def __init__(self) -> None:
        self.asked: list[tuple[datetime, datetime, int]] = []

    async def between(self, *, start: datetime, end: datetime, limit: int) -> list[DispatchedCase]:
        self.asked.append((start, end, limit))
        return [DispatchedCase("c1", "dispatched", "urban-management", 1)] * min(limit, 3)


async def get(who: str | None, **params: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(reconciliation_router(authenticate=authenticate, store=FakeStore()))
    install_problem_details(app, refusals={})
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
    ) as client:
        return await client.get("/reconciliation/cases", params=params)


PERIOD = {"received_from": "2026-03-01T00:00:00+08:00", "received_to": "2026-04-01T00:00:00+08:00"}


async def test_auditors_and_the_hub_list_the_periods_cases() -> None:
    for who in ("auditor", "hub"):
        response = await get(who, **PERIOD)
        assert response.status_code == 200, response.text
        assert [c["case_id"] for c in response.json()["cases"]] == ["c1"] * 3
        assert response.json()["truncated"] is False
    cut = await get("auditor", **PERIOD, limit="2")
    assert cut.json()["truncated"] is True
    assert len(cut.json()["cases"]) == 2


async def test_others_are_refused_and_a_bad_period_names_its_field() -> None:
    assert (await get("hotline", **PERIOD)).status_code == 403
    assert (await get("staff", **PERIOD)).status_code == 403
    assert (await get(None, **PERIOD)).status_code == 401
    backwards = await get(
        "auditor", received_from=PERIOD["received_to"], received_to=PERIOD["received_from"]
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "received_to"
    missing = await get("auditor", received_from=PERIOD["received_from"])
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "received_to"
