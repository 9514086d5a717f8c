"""The practice's routes at the HTTP edge: 一考双评 (who may assess, 409 for a second one,
422 naming the field) and the evaluation score as a ranking measure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from oversight_fakes import T0, FakeAssessments, FakeReader, FakeRepository, FakeUnitOfWork
from test_oversight_access import NOW, authenticate, refused
from yiwang.common.clock import ManualClock
from yiwang.common.problems import install_problem_details
from yiwang.oversight.entrypoints.http import REFUSALS
from yiwang.oversight.entrypoints.http_assessments import assessment_router
from yiwang.oversight.entrypoints.http_ledgers import ledger_router
from yiwang.oversight.entrypoints.http_reports import report_router

UM = "urban-management"
BODY = {"township_code": "tw-east", "department": UM, "month": "2026-03", "score": 85}


@asynccontextmanager
async def client_as(uow: FakeUnitOfWork, who: str | None) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    clock = ManualClock(NOW)
    reader = FakeReader(uow.repository, assessments=uow.assessments)
    app.include_router(
        assessment_router(
            uow=lambda: uow, reader=lambda: reader, clock=clock, authenticate=authenticate
        )
    )
    app.include_router(report_router(reader=lambda: reader, clock=clock, authenticate=authenticate))
    app.include_router(ledger_router(reader=lambda: reader, clock=clock, authenticate=authenticate))
    install_problem_details(app, refusals=REFUSALS)
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oversight", headers=headers
    ) as client:
        yield client


def served() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository(), FakeAssessments(served={("tw-east", UM)}))


async def test_the_township_official_assesses_once() -> None:
    uow = served()
    async with client_as(uow, "east") as east:
        first = await east.post("/assessments", json=BODY)
        assert first.status_code == 201, first.text
        assert first.json()["month"] == "2026-03"
        assert first.json()["assessed_by"] == "person:east"
        second = await east.post("/assessments", json={**BODY, "score": 10})
        assert refused(second, 409, "department")["code"] == "assessment_exists"
        listed = await east.get("/assessments", params={"month": "2026-03"})
        assert [a["score"] for a in listed.json()["assessments"]] == [85]
    assert T0 < NOW


async def test_others_may_not_assess_and_bad_input_names_the_field() -> None:
    uow = served()
    for who, status in (("west", 403), ("unbound", 403), ("hub", 403), ("staff_um", 403)):
        async with client_as(uow, who) as client:
            response = await client.post("/assessments", json=BODY)
            assert response.status_code == status, (who, response.text)
    async with client_as(uow, None) as anonymous:
        assert (await anonymous.post("/assessments", json=BODY)).status_code == 401
    async with client_as(uow, "east") as east:
        refused(
            await east.post("/assessments", json={**BODY, "department": "health"}),
            422,
            "department",
        )
        refused(
            await east.post("/assessments", json={**BODY, "department": "x"}), 422, "department"
        )
        refused(await east.post("/assessments", json={**BODY, "score": 101}), 422, "score")
        refused(await east.post("/assessments", json={**BODY, "month": "2026-3"}), 422, "month")
        refused(await east.post("/assessments", json={**BODY, "month": "2027-01"}), 422, "month")
        refused(await east.get("/assessments", params={"month": "03/2026"}), 422, "month")
    assert uow.assessments.kept == {}


async def test_rankings_by_the_evaluation_score() -> None:
    uow = served()
    async with client_as(uow, "east") as east:
        await east.post("/assessments", json=BODY)
    async with client_as(uow, "auditor") as auditor:
        response = await auditor.get(
            "/rankings",
            params={"from": "2026-03-01", "to": "2026-03-31", "by": "evaluation_score"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["by"] == "evaluation_score"
        bad = await auditor.get(
            "/rankings", params={"from": "2026-03-01", "to": "2026-03-31", "by": "nonsense"}
        )
        refused(bad, 422, "by")
        kpis = await auditor.get(
            "/kpis", params={"from": "2026-03-01", "to": "2026-03-31", "group_by": "grid"}
        )
        assert kpis.status_code == 200, kpis.text
        assert "settled_in_grid_share" in kpis.json()["overall"]
        assert "evaluation_score" in kpis.json()["overall"]
