"""The routes' guards and their answers to bad input, on fakes: who may call each route
(people by token, machines by key, each bound to a department or a township), what the
audit records of who acted, and a 4xx naming the field for every bad parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dispatch_fakes import FakeDispatchUnitOfWork
from fastapi import FastAPI, Request
from test_dispatch_domain import CIVIL, HOUSING, HUB
from test_dispatch_handlers import clock, dispatched, order_of
from yiwang.common.access import ACCESS_KEY
from yiwang.common.auth import Actor, Role, Unauthenticated
from yiwang.common.events import CaseStateChanged, RulingMade
from yiwang.common.problems import install_problem_details
from yiwang.department_dispatch.entrypoints.http import REFUSALS, http_router
from yiwang.department_dispatch.entrypoints.http_work_orders import work_orders_router


def person(name: str, role: Role, **bindings: str) -> Actor:
    return Actor(id=name, name=name, roles=frozenset({role}), person=True, **bindings)  # type: ignore[arg-type]


def machine(name: str, role: Role, **bindings: str) -> Actor:
    return Actor(id=f"key:{name}", name=name, roles=frozenset({role}), person=False, **bindings)  # type: ignore[arg-type]


ACTORS = {
    "staff_civil": person("staff_civil_affairs", Role.DEPARTMENT_STAFF, department=CIVIL),
    "staff_housing": person("staff_housing", Role.DEPARTMENT_STAFF, department=HOUSING),
    "staff_unbound": person("staff_nowhere", Role.DEPARTMENT_STAFF),
    "civil_system": machine("civil-affairs", Role.DEPARTMENT_SYSTEM, department=CIVIL),
    "hub_system": machine("comprehensive-governance", Role.DEPARTMENT_SYSTEM, department=HUB),
    "hub_operator": person("hub_operator", Role.HUB_OPERATOR),
    "auditor": person("auditor", Role.AUDITOR),
    "township_1": person("township_140302001", Role.TOWNSHIP_OFFICIAL, township_code="140302001"),
    "township_2": person("township_140302002", Role.TOWNSHIP_OFFICIAL, township_code="140302002"),
    "township_system": machine("140302001", Role.TOWNSHIP_SYSTEM, township_code="140302001"),
}


async def authenticate(request: Request) -> Actor:
    who = request.headers.get("x-test-actor")
    if who is None:
        raise Unauthenticated("a credential is required")
    return ACTORS[who]


@pytest.fixture
def uow() -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork()


@pytest.fixture
async def client(uow: FakeDispatchUnitOfWork) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    factory: Any = lambda: uow  # noqa: E731 (the fake unit of work, reused)
    app.include_router(http_router(uow=factory, clock=clock, authenticate=authenticate))
    app.include_router(work_orders_router(uow=factory, clock=clock, authenticate=authenticate))
    install_problem_details(app, refusals=REFUSALS)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as c:
        yield c


def as_(who: str) -> dict[str, str]:
    return {"x-test-actor": who}


def reply(order_id: str, kind: str = "acknowledge", **fields: Any) -> dict[str, Any]:
    return {"case_id": "c1", "work_order_id": order_id, "reply_id": f"r-{kind}", "kind": kind,
            **fields}  # fmt: skip


def whistle(**fields: Any) -> dict[str, Any]:
    return {"case_id": "c1", "township_code": "140302001", "departments": ["housing"],
            "reason": "r", **fields}  # fmt: skip


def field_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, body["errors"][0]["field"] if body["errors"] else ""


def test_every_route_declares_who_may_call_it() -> None:
    app = FastAPI()
    factory: Any = None
    app.include_router(http_router(uow=factory, clock=clock, authenticate=authenticate))
    app.include_router(work_orders_router(uow=factory, clock=clock, authenticate=authenticate))
    access = {
        (method, path): op[ACCESS_KEY]
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
    }
    department = {"roles": ["department-staff", "department-system"], "bound": ["department"]}
    assert access == {
        ("post", "/replies"): department,
        ("get", "/work-orders"): department,
        ("post", "/whistles"): {
            "roles": ["township-official", "township-system"],
            "bound": ["township"],
        },
        ("post", "/cases/{case_id}/ruling"): {
            "roles": ["department-system", "hub-operator"],
            "bound": [],
        },
    }


async def test_staff_reply_for_their_department_only(
    client: httpx.AsyncClient, uow: FakeDispatchUnitOfWork
) -> None:
    await dispatched(uow)
    lead = order_of(uow, CIVIL)
    assert (await client.post("/replies", json=reply(lead))).status_code == 401
    assert field_of(await client.post("/replies", json=reply(lead), headers=as_("auditor"))) == (
        403,
        "authorization",
    )
    other = await client.post("/replies", json=reply(lead), headers=as_("staff_housing"))
    assert (other.status_code, other.json()["code"]) == (403, "not_assignment_holder")
    unbound = await client.post("/replies", json=reply(lead), headers=as_("staff_unbound"))
    assert (unbound.status_code, unbound.json()["code"]) == (403, "no_department")
    assert [(r.reason, r.actor) for r in uow.repository.rejections] == [
        ("not_assignment_holder", "person:staff_housing"),
        ("no_department", "person:staff_nowhere"),
    ]
    ok = await client.post("/replies", json=reply(lead), headers=as_("staff_civil"))
    assert ok.status_code == 200, ok.text
    assert uow.repository.reply_actors[(CIVIL, "r-acknowledge")] == "person:staff_civil_affairs"
    [entry] = [e for e in uow.committed_of(CaseStateChanged) if e.to_state == "acknowledged"]  # type: ignore[attr-defined]
    assert (entry.actor, entry.department) == ("person:staff_civil_affairs", CIVIL)  # type: ignore[attr-defined]
    progress = reply(lead, "progress", note="x")
    by_key = await client.post("/replies", json=progress, headers=as_("civil_system"))
    assert by_key.status_code == 200
    assert uow.repository.reply_actors[(CIVIL, "r-progress")] == "department-system:civil-affairs"


async def test_a_township_whistles_in_its_own_township_only(
    client: httpx.AsyncClient, uow: FakeDispatchUnitOfWork
) -> None:
    await dispatched(uow)
    body = {"case_id": "c1", "township_code": "140302001", "departments": [HOUSING],
            "reason": "联合执法"}  # fmt: skip
    assert (await client.post("/whistles", json=body)).status_code == 401
    staff = await client.post("/whistles", json=body, headers=as_("staff_civil"))
    assert field_of(staff) == (403, "authorization")
    elsewhere = await client.post("/whistles", json=body, headers=as_("township_2"))
    assert field_of(elsewhere) == (403, "authorization")
    lies_elsewhere = await client.post(
        "/whistles", json={**body, "township_code": "140302002"}, headers=as_("township_2")
    )
    assert lies_elsewhere.json()["code"] == "not_the_case_township"
    for who, audit in (
        ("township_1", "person:township_140302001"),
        ("township_system", "township-system:140302001"),
    ):
        blown = await client.post("/whistles", json=body, headers=as_(who))
        assert blown.status_code == 201, blown.text
        assert uow.repository.whistles[blown.json()["whistle_id"]].blown_by == audit


async def test_the_hub_rules_by_operator_or_its_own_system(
    client: httpx.AsyncClient, uow: FakeDispatchUnitOfWork
) -> None:
    await dispatched(uow, triage=True, lead_department=HUB, assisting_departments=())
    ruling = {"department": HOUSING, "reason": "经研判，属住建部门职责"}
    assert (await client.post("/cases/c1/ruling", json=ruling)).status_code == 401
    for who in ("auditor", "staff_civil"):
        refused = await client.post("/cases/c1/ruling", json=ruling, headers=as_(who))
        assert field_of(refused) == (403, "authorization")
    not_hub = await client.post("/cases/c1/ruling", json=ruling, headers=as_("civil_system"))
    assert (not_hub.status_code, not_hub.json()["code"]) == (403, "not_the_hub")
    made = await client.post("/cases/c1/ruling", json=ruling, headers=as_("hub_operator"))
    assert made.status_code == 201, made.text
    assert made.json()["ruled_by"] == "person:hub_operator"
    [event] = uow.committed_of(RulingMade)
    assert event.ruled_by == "person:hub_operator"  # type: ignore[attr-defined]
    [ruled] = uow.repository.rulings.values()
    assert ruled.ruled_by == "person:hub_operator"


async def test_staff_list_their_own_departments_orders(
    client: httpx.AsyncClient, uow: FakeDispatchUnitOfWork
) -> None:
    await dispatched(uow)
    mine = await client.get("/work-orders", headers=as_("staff_housing"))
    assert [o["role"] for o in mine.json()["work_orders"]] == ["assisting"]
    assert (await client.get("/work-orders")).status_code == 401
    assert field_of(await client.get("/work-orders", headers=as_("township_1"))) == (
        403,
        "authorization",
    )
    unbound = await client.get("/work-orders", headers=as_("staff_unbound"))
    assert (unbound.status_code, unbound.json()["code"]) == (403, "not_a_department")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": 100_001}, "offset"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**30}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"case_id": "x" * 129}, "case_id"),
        ({"status": "lost"}, "status.0"),
        ({"status": ["issued"] * 7}, "status"),
        ({"open": "perhaps"}, "open"),
    ],
)
async def test_bad_listing_parameters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/work-orders", params=params, headers=as_("staff_civil"))
    assert field_of(response) == (422, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/replies", reply("wo-1", case_id="c" * 129), "case_id"),
        ("/replies", reply("w" * 129), "work_order_id"),
        ("/replies", reply("wo-1", reply_id="r" * 65), "reply_id"),
        ("/replies", reply("wo-1", note="n" * 2001), "note"),
        ("/replies", reply("wo-1", evidence_urls=["u" * 1001]), "evidence_urls.0"),
        (
            "/replies",
            reply("wo-1", assisting_departments=["housing"] * 15),
            "assisting_departments",
        ),
        ("/replies", reply("wo-1", kind="shrug"), "kind"),
        ("/whistles", whistle(township_code="1403"), "township_code"),
        ("/whistles", whistle(departments=[]), "departments"),
        ("/whistles", whistle(report_within_minutes=1e9), "report_within_minutes"),
        ("/whistles", whistle(report_within_minutes=0), "report_within_minutes"),
        ("/whistles", whistle(case_id="c" * 129), "case_id"),
        ("/whistles", whistle(reason=""), "reason"),
        ("/whistles", whistle(by="someone"), "by"),
        ("/cases/c1/ruling", {"department": "housing", "reason": "r" * 2001}, "reason"),
        ("/cases/c1/ruling", {"department": "the-moon", "reason": "r"}, "department"),
        (f"/cases/{'c' * 129}/ruling", {"department": "housing", "reason": "r"}, "case_id"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    who = {"/replies": "staff_civil", "/whistles": "township_1"}.get(path, "hub_operator")
    assert field_of(await client.post(path, json=body, headers=as_(who))) == (422, field)


async def test_not_a_number_is_refused(client: httpx.AsyncClient) -> None:
    raw = (
        b'{"case_id": "c1", "township_code": "140302001", "departments": ["housing"],'
        b' "reason": "r", "report_within_minutes": NaN}'
    )
    response = await client.post(
        "/whistles",
        content=raw,
        headers={**as_("township_1"), "content-type": "application/json"},
    )
    assert field_of(response) == (422, "report_within_minutes")
