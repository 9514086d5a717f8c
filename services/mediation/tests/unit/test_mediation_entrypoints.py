"""The entrypoints on the fakes: refusals answered as problem details (REFUSALS), the
mediation-timers job, and the roster table of the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from mediation_fakes import ACTORS, FakeMediationUnitOfWork
from test_mediation_domain import LIMIT, NOW, routed
from yiwang.common.auth import Actor, Unauthenticated
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import PROBLEM_JSON, install_problem_details
from yiwang.mediation import handlers
from yiwang.mediation.cli import roster_table
from yiwang.mediation.config import DEVELOPMENT_PII_KEY, MediationSettings
from yiwang.mediation.domain.ladder import LadderPolicy, MediationLevel
from yiwang.mediation.domain.roster import synthetic_roster
from yiwang.mediation.entrypoints.background import jobs
from yiwang.mediation.entrypoints.http import REFUSALS, http_router
from yiwang.mediation.entrypoints.http_roster import roster_router

POLICY = LadderPolicy(time_limit=LIMIT, county_code="140302")


@pytest.fixture
def uow() -> FakeMediationUnitOfWork:
    return FakeMediationUnitOfWork(synthetic_roster("140302", 1))


def app_for(uow: FakeMediationUnitOfWork) -> FastAPI:
    """The service's routers on the fakes; the caller is named by an X-Test-Actor header
    (one of ACTORS), standing in for the identity provider's token."""
    app = FastAPI()
    install_problem_details(app, refusals=REFUSALS)
    vault = PersonalDataVault(DEVELOPMENT_PII_KEY)
    clock = ManualClock(NOW)

    async def authenticate(request: Request) -> Actor:
        name = request.headers.get("x-test-actor")
        if name is None:
            raise Unauthenticated("a credential is required")
        return ACTORS[name]

    routes = http_router(
        uow=lambda: uow, clock=clock, policy=POLICY, vault=vault, authenticate=authenticate
    )
    app.include_router(routes)
    app.include_router(roster_router(uow=lambda: uow, authenticate=authenticate))
    return app


def client_as(uow: FakeMediationUnitOfWork, actor: str | None) -> httpx.AsyncClient:
    headers = {} if actor is None else {"X-Test-Actor": actor}
    transport = httpx.ASGITransport(app=app_for(uow))
    return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


@pytest.fixture
def client(uow: FakeMediationUnitOfWork) -> httpx.AsyncClient:
    return client_as(uow, "hub_operator")


async def opened(uow: FakeMediationUnitOfWork) -> str:
    case = await handlers.open_routed_dispute(
        uow=uow,
        envelope=Envelope(payload=routed(), source="/t"),
        clock=ManualClock(NOW),
        policy=POLICY,
    )
    assert case is not None
    return case.mediation_id


def refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert [e["field"] for e in body["errors"]] == [field]
    return body


async def test_refusals_name_the_field_at_fault(
    client: httpx.AsyncClient, uow: FakeMediationUnitOfWork
) -> None:
    mid = await opened(uow)
    async with client:
        refused(await client.get("/mediations/med-nope"), 404, "mediation_id")
        refused(await client.patch(f"/mediations/{mid}/parties/pty-nope", json={}), 404, "party_id")
        session = {"scheduled_at": "2099-01-01T09:00:00+08:00", "place": "村委会"}
        early = refused(
            await client.post(f"/mediations/{mid}/sessions", json=session), 409, "mediation_id"
        )
        assert "accept" in early["detail"]
        no_terms = {"kind": "agreement", "performance_deadline": "2099-01-01T00:00:00Z"}
        refused(
            await client.post(f"/mediations/{mid}/outcome", json={"kind": "failed"}),
            409,
            "mediation_id",
        )
        assert (await client.post(f"/mediations/{mid}/accept", json={})).status_code == 200
        missing = refused(
            await client.post(f"/mediations/{mid}/outcome", json=no_terms), 422, "terms"
        )
        assert missing["errors"][0]["reason"] == "'terms' is required for an agreement"
        past = {"scheduled_at": "2020-01-01T09:00:00+08:00", "place": "村委会"}
        refused(await client.post(f"/mediations/{mid}/sessions", json=past), 422, "scheduled_at")
        elsewhere = {"mediator_id": "m-140302-centre-1"}
        refused(await client.post(f"/mediations/{mid}/assign", json=elsewhere), 409, "mediator_id")
        unknown = {"mediator_id": "m-nobody"}
        refused(await client.post(f"/mediations/{mid}/assign", json=unknown), 404, "mediator_id")


async def test_roster_refusals(client: httpx.AsyncClient, uow: FakeMediationUnitOfWork) -> None:
    mid = await opened(uow)
    new = {"mediator_id": "m-1", "name": "王", "level": "grid", "area_code": "140302001"}
    async with client, client_as(uow, "administrator") as admin:
        registered = await admin.post("/mediators", json=new)
        assert registered.status_code == 201
        assert registered.json()["changed_by"] == "person:administrator"
        refused(await admin.post("/mediators", json=new), 409, "mediator_id")
        trade = {**new, "mediator_id": "m-2", "trade": "labour"}
        refused(await admin.post("/mediators", json=trade), 422, "trade")
        accepted = (await client.post(f"/mediations/{mid}/accept", json={})).json()
        busy = accepted["mediator_id"]
        refused(await admin.patch(f"/mediators/{busy}", json={"capacity": 0}), 422, "capacity")
        await admin.patch(f"/mediators/{busy}", json={"capacity": 1})
        uow.roster_repository.mediators[busy].load = 2
        refused(await admin.patch(f"/mediators/{busy}", json={"capacity": 1}), 409, "capacity")
        validation = refused(await client.get("/mediators", params={"level": "x"}), 422, "level")
        assert validation["instance"] == "/mediators"


async def test_the_timer_job_seeds_the_roster_once_then_fires_due_timers() -> None:
    empty = FakeMediationUnitOfWork()
    settings = MediationSettings(MEDIATION_TIMER_POLL_SECONDS=0.01, MEDIATION_SEED_TOWNSHIPS=1)
    clock = ManualClock(NOW)
    [job] = jobs(settings=settings, uow=lambda: empty, clock=clock, policy=POLICY)
    assert job.name == "mediation-timers"
    running = asyncio.create_task(job.run())
    try:
        await asyncio.sleep(0.05)
        seeded = dict(empty.roster_repository.mediators)
        assert len(seeded) == len(synthetic_roster("140302", 1))
        mid = await opened(empty)
        clock.advance(LIMIT)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if empty.repository.cases[mid].level is MediationLevel.COMMUNITY:
                break
        assert empty.repository.cases[mid].level is MediationLevel.COMMUNITY
        assert empty.roster_repository.mediators.keys() == seeded.keys()
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


def test_the_cli_roster_table_shows_load_over_capacity() -> None:
    roster = synthetic_roster("140302", 1)
    roster[0].load = 3
    lines = roster_table(roster).splitlines()
    assert lines[0].split() == [
        "mediator",
        "level",
        "area",
        "trade",
        "load",
        "active",
        "specialties",
    ]
    assert lines[1].split()[:6] == ["m-140302001-grid-1", "grid", "140302001", "-", "3/20", "yes"]
    assert len(lines) == len(roster) + 1
