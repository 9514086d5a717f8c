"""Who may call each oversight route (`allow` on the routes, `domain/access.py` for the
township and department bindings), who is recorded as having acted, the evaluation
token at the HTTP edge, and bad input answered as 4xx naming the field.

The caller is named by `Authorization: Bearer <name>` (ACTORS below); the integration
tests do the same with real tokens from the identity provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from oversight_fakes import POLICY, T0, FakeReader, FakeRepository, FakeUnitOfWork, change, routed
from yiwang.common.auth import Actor, Forbidden, Role, Unauthenticated, presented_credential
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.events import EvaluationInvited
from yiwang.common.problems import install_problem_details
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain.access import check_case_in_scope, scope_of
from yiwang.oversight.domain.projection import EntryKind
from yiwang.oversight.entrypoints.http import REFUSALS, case_router
from yiwang.oversight.entrypoints.http_reports import report_router
from yiwang.oversight.handlers.projection import record_event

MS = Department.MARKET_SUPERVISION
NOW = T0 + timedelta(days=1)


def person(name: str, *roles: Role, **bindings: str) -> Actor:
    return Actor(id=name, name=name, roles=frozenset(roles), person=True, **bindings)  # type: ignore[arg-type]


ACTORS = {
    a.name: a
    for a in (
        person("hub", Role.HUB_OPERATOR),
        person("auditor", Role.AUDITOR),
        person("administrator", Role.ADMINISTRATOR),
        person("east", Role.TOWNSHIP_OFFICIAL, township_code="tw-east"),
        person("west", Role.TOWNSHIP_OFFICIAL, township_code="tw-west"),
        person("unbound", Role.TOWNSHIP_OFFICIAL),
        person("staff_ms", Role.DEPARTMENT_STAFF, department="market-supervision"),
        person("staff_um", Role.DEPARTMENT_STAFF, department="urban-management"),
        person("mediator", Role.MEDIATOR, committee="140399"),
        person("hotline", Role.HOTLINE_OPERATOR),
    )
}


async def authenticate(request: Request) -> Actor:
    credential = presented_credential(request)
    if not credential:
        raise Unauthenticated("a credential is required")
    if credential not in ACTORS:
        raise Unauthenticated("the bearer token is not valid")
    return ACTORS[credential]


@pytest.fixture
async def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork(FakeRepository())
    for case_id, sla_class in (("c1", "general"), ("p1", "petition")):
        await record_event(
            uow=uow,
            envelope=routed(case_id, 0, MS, received_at=T0, sla_class=sla_class),
            now=T0,
            policy=POLICY,
        )
        for envelope in (
            change(case_id, 0, None, S.RECEIVED, actor="intake"),
            change(case_id, 1, S.RECEIVED, S.ROUTED, department=MS),
            change(case_id, 2, S.ROUTED, S.DISPATCHED, department=MS),
            change(case_id, 300, S.DISPATCHED, S.RESOLVED, department=MS),
        ):
            await record_event(uow=uow, envelope=envelope, now=T0, policy=POLICY)
    return uow


@asynccontextmanager
async def client_as(uow: FakeUnitOfWork, who: str | None) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    clock = ManualClock(NOW)
    reader = FakeReader(uow.repository)
    app.include_router(
        case_router(
            uow=lambda: uow,
            reader=lambda: reader,
            clock=clock,
            policy=POLICY,
            authenticate=authenticate,
        )
    )
    app.include_router(report_router(reader=lambda: reader, clock=clock, authenticate=authenticate))
    install_problem_details(app, refusals=REFUSALS)
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://oversight", headers=headers
    ) as client:
        yield client


def refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["errors"][0]["field"] == field, body
    return body


PERIOD = {"from": "2026-03-01", "to": "2026-03-02"}
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/cases/c1", {}),
    ("GET", "/cases", {}),
    ("GET", "/cases/c1/follow-up-calls", {}),
    ("POST", "/cases/c1/follow-up-calls", {"json": {"reached": True}}),
    ("POST", "/cases/c1/extensions", {"json": {"reason": "复杂"}}),
    ("POST", "/cases/c1/evaluations", {"json": {"score": 5}}),
    ("GET", "/kpis", {"params": PERIOD}),
    ("GET", "/rankings", {"params": PERIOD}),
    ("GET", "/ledgers", {}),
    ("GET", "/reports/daily", {"params": {"day": "2026-03-01"}}),
]
READ_ALL = [200, 200, 200, 403, 403, 403, 200, 200, 200, 200]


async def test_roles_each_route_lets_in(uow: FakeUnitOfWork) -> None:
    expected = {
        None: [401] * 10,
        "stranger": [401] * 10,
        "mediator": [403] * 10,
        "auditor": READ_ALL,
        "administrator": READ_ALL,
        "hub": [200, 200, 200, 403, 409, 403, 200, 200, 200, 200],  # c1 allows no extension
        "east": READ_ALL,
        "west": [403, 200, 403, 403, 403, 403, 200, 200, 200, 200],
        "staff_ms": READ_ALL,
        "staff_um": [403, 200, 403, 403, 403, 403, 200, 200, 200, 200],
        "hotline": [403, 403, 403, 201, 403, 201, 403, 403, 403, 403],  # last: it closes c1
    }
    for who, statuses in expected.items():
        async with client_as(uow, who) as client:
            got = [(await client.request(m, path, **kw)).status_code for m, path, kw in CALLS]
        assert got == statuses, who
    async with client_as(uow, None) as client:
        refused(await client.get("/cases/c1"), 401, "authorization")
    async with client_as(uow, "mediator") as client:
        refused(await client.get("/kpis", params=PERIOD), 403, "authorization")


async def test_officials_and_staff_see_only_their_own_cases(uow: FakeUnitOfWork) -> None:
    async with client_as(uow, "west") as west, client_as(uow, "east") as east:
        found = refused(await west.get("/cases/c1"), 403, "authorization")
        assert "tw-west" in found["detail"]
        assert (await west.get("/cases")).json()["total"] == 0
        assert (await west.get("/cases", params={"township": "tw-east"})).json()["total"] == 0
        assert (await east.get("/cases")).json()["total"] == 2
    async with client_as(uow, "staff_um") as um, client_as(uow, "unbound") as unbound:
        assert (await um.get("/cases")).json()["total"] == 0
        refused(await unbound.get("/cases"), 403, "authorization")
        refused(await unbound.get("/cases/c1"), 403, "authorization")


def test_the_scope_of_each_role() -> None:
    assert scope_of(ACTORS["auditor"]).everything
    east = scope_of(ACTORS["east"])
    assert (east.everything, east.township, east.department) == (False, "tw-east", None)
    both = person(
        "both", Role.TOWNSHIP_OFFICIAL, Role.DEPARTMENT_STAFF, township_code="t", department="d"
    )
    check_case_in_scope(both, township_code="x", lead_department="d")
    check_case_in_scope(both, township_code="t", lead_department="y")
    with pytest.raises(Forbidden, match=r"township t, not x; .* acts for d, not y"):
        check_case_in_scope(both, township_code="x", lead_department="y")


async def test_the_actor_recorded_is_the_authenticated_one(uow: FakeUnitOfWork) -> None:
    async with client_as(uow, "hotline") as hotline, client_as(uow, "hub") as hub:
        call = await hotline.post(
            "/cases/c1/follow-up-calls",
            json={"reached": True, "operator": "someone-else", "note": "回访 13912345678"},
        )
        assert call.status_code == 201, call.text
        assert call.json()["operator"] == "person:hotline"
        assert "13912345678" not in call.json()["note"]
        extended = await hub.post("/cases/p1/extensions", json={"reason": "情况复杂", "actor": "x"})
        assert extended.status_code == 201, extended.text
        evaluated = await hotline.post("/cases/c1/evaluations", json={"score": 4})
        assert evaluated.status_code == 201, evaluated.text
    actors = {(e.kind, e.actor) for e in uow.repository.entries.values()}
    assert (EntryKind.FOLLOW_UP_CALL, "person:hotline") in actors
    assert (EntryKind.EXTENDED, "person:hub") in actors
    assert (EntryKind.EVALUATED, "person:hotline") in actors


async def test_a_resident_evaluates_with_the_token_and_no_credential(uow: FakeUnitOfWork) -> None:
    tokens = {e.case_id: e.token for t, e in uow.committed if isinstance(e, EvaluationInvited)}
    async with client_as(uow, None) as resident, client_as(uow, "auditor") as auditor:
        refused(
            await resident.post("/cases/c1/evaluations", json={"score": 5}), 401, "authorization"
        )
        wrong = await resident.post("/cases/c1/evaluations", json={"score": 5, "token": "w" * 43})
        assert refused(wrong, 403, "token")["code"] == "evaluation_token_refused"
        other = await resident.post(
            "/cases/c1/evaluations", json={"score": 5, "token": tokens["p1"]}
        )
        refused(other, 403, "token")
        with_token = {"score": 5, "token": tokens["c1"]}
        refused(await auditor.post("/cases/c1/evaluations", json=with_token), 403, "authorization")
        ok = await resident.post("/cases/c1/evaluations", json=with_token)
        assert ok.status_code == 201, ok.text
        assert ok.json()["state"] == "closed"
        refused(await resident.post("/cases/c1/evaluations", json=with_token), 403, "token")
        refused(
            await resident.post("/cases/c1/evaluations", json={"score": 9}), 401, "authorization"
        )
    [entry] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.EVALUATED]
    assert entry.actor == "resident"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/cases", {"from": "0001-01-01"}, "from"),
        ("/cases", {"to": "0001-01-01"}, "to"),
        ("/cases", {"from": "2101-01-01"}, "from"),
        ("/cases", {"offset": "100001"}, "offset"),
        ("/cases", {"offset": "-1"}, "offset"),
        ("/cases", {"limit": "501"}, "limit"),
        ("/cases", {"limit": "0"}, "limit"),
        ("/cases", {"township": "t" * 65}, "township"),
        ("/kpis", {"from": "0001-01-01", "to": "2026-03-01"}, "from"),
        ("/kpis", {"from": "2026-03-01", "to": "9999-12-31"}, "to"),
        ("/rankings", {"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ("/rankings", {"from": "2026-03-01", "to": "2101-01-01"}, "to"),
        ("/reports/daily", {"day": "0001-01-01"}, "day"),
        ("/reports/daily", {"day": "1999-12-31"}, "day"),
        ("/reports/daily", {"day": "2026-02-30"}, "day"),
        ("/ledgers", {"department": "nowhere"}, "department"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    uow: FakeUnitOfWork, path: str, params: dict[str, str], field: str
) -> None:
    async with client_as(uow, "auditor") as client:
        refused(await client.get(path, params=params), 422, field)


async def test_bad_bodies_and_paths_are_4xx_naming_the_field(uow: FakeUnitOfWork) -> None:
    async with client_as(uow, "hotline") as hotline, client_as(uow, "auditor") as auditor:
        old = {"reached": True, "called_at": "0001-01-01T00:00:00+00:00"}
        refused(await hotline.post("/cases/c1/follow-up-calls", json=old), 422, "called_at")
        naive = {"reached": True, "called_at": "2026-03-01T00:00:00"}
        refused(await hotline.post("/cases/c1/follow-up-calls", json=naive), 422, "called_at")
        long_note = {"reached": True, "note": "x" * 2001}
        refused(await hotline.post("/cases/c1/follow-up-calls", json=long_note), 422, "note")
        refused(await auditor.get("/cases/" + "c" * 129), 422, "case_id")
        short = {"score": 5, "token": "short"}
        refused(await hotline.post("/cases/c1/evaluations", json=short), 422, "token")
