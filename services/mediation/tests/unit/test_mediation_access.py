"""Who may see and act on mediations and the roster (domain/access.py and the routes'
`allow`), who is recorded as having acted, and bad input answered as 4xx naming the field.
The caller is named by the X-Test-Actor header (mediation_fakes.ACTORS); the integration
tests do the same with real tokens from the identity provider."""

from __future__ import annotations

from typing import Any

import pytest
from mediation_fakes import FakeMediationUnitOfWork
from test_mediation_domain import NOW, routed
from test_mediation_entrypoints import POLICY, client_as, opened, refused
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.mediation import handlers
from yiwang.mediation.domain.roster import synthetic_roster

SESSION = {"scheduled_at": "2099-01-01T09:00:00+08:00", "place": "村委会"}


@pytest.fixture
def uow() -> FakeMediationUnitOfWork:
    return FakeMediationUnitOfWork(synthetic_roster("140302", 2))


async def test_roles_each_route_lets_in(uow: FakeMediationUnitOfWork) -> None:
    mid = await opened(uow)  # at the grid rung of township 140302001
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/mediations", {}),
        ("GET", f"/mediations/{mid}", {}),
        ("POST", f"/mediations/{mid}/decline", {"json": {"reason": "x"}}),
        ("GET", "/mediators", {}),
        ("POST", "/mediators", {"json": {}}),
        ("PATCH", "/mediators/m-1", {"json": {}}),
    ]
    expected = {
        None: [401] * 6,
        "hotline_operator": [403] * 6,
        "auditor": [200, 200, 403, 200, 403, 403],
        "administrator": [403, 403, 403, 200, 422, 404],
        "mediator_140302002": [200, 403, 403, 200, 403, 403],
    }
    for who, statuses in expected.items():
        async with client_as(uow, who) as client:
            got = [(await client.request(m, path, **kw)).status_code for m, path, kw in calls]
        assert got == statuses, who


async def test_a_mediator_sees_and_acts_only_within_their_committee_area(
    uow: FakeMediationUnitOfWork,
) -> None:
    mid = await opened(uow)  # committee grid:140302001001001
    async with (
        client_as(uow, "mediator_140302002") as outsider,
        client_as(uow, "mediator_140302001") as township,
        client_as(uow, "mediator_none") as unbound,
    ):
        assert (await outsider.get("/mediations")).json() == []
        found = refused(await outsider.get(f"/mediations/{mid}"), 403, "authorization")
        assert "140302002" in found["detail"]
        for path, body in (
            ("accept", {}),
            ("assign", {}),
            ("sessions", SESSION),
            ("outcome", {"kind": "withdrawn"}),
            ("follow-up", {"honoured": True}),
            ("parties", {"role": "respondent", "name": "王五"}),
        ):
            refused(
                await outsider.post(f"/mediations/{mid}/{path}", json=body), 403, "authorization"
            )
        patch = await outsider.patch(f"/mediations/{mid}", json={"amount_in_dispute": "1.00"})
        refused(patch, 403, "authorization")
        refused(await unbound.get("/mediations"), 403, "authorization")
        assert [m["mediation_id"] for m in (await township.get("/mediations")).json()] == [mid]
        accepted = await township.post(f"/mediations/{mid}/accept", json={})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"


async def test_every_human_step_records_its_actor(uow: FakeMediationUnitOfWork) -> None:
    mid = await opened(uow)
    async with (
        client_as(uow, "mediator_140302001") as mediator,
        client_as(uow, "hub_operator") as hub,
    ):
        await mediator.patch(f"/mediations/{mid}", json={"amount_in_dispute": "800.00"})
        await mediator.post(f"/mediations/{mid}/parties", json={"role": "respondent"})
        await mediator.post(f"/mediations/{mid}/accept", json={})
        await hub.post(f"/mediations/{mid}/sessions", json=SESSION)
        withdrawn = await hub.post(f"/mediations/{mid}/outcome", json={"kind": "withdrawn"})
    history = [(h["step"], h["actor"]) for h in withdrawn.json()["history"]]
    assert history == [
        ("opened", "mediation"),
        ("amount_set", "person:mediator_140302001"),
        ("party_added", "person:mediator_140302001"),
        ("accepted", "person:mediator_140302001"),
        ("mediator_assigned", "person:mediator_140302001"),
        ("session_scheduled", "person:hub_operator"),
        ("withdrawn", "person:hub_operator"),
    ]
    changes = [e for t, e in uow.committed if t == CASE_LIFECYCLE]
    assert all(isinstance(e, CaseStateChanged) and e.actor == "mediation" for e in changes)
    assert changes[-1].note == "mediation withdrawn at grid:140302001001001 by person:hub_operator"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("parties", {"role": "respondent", "name": "王\x01五"}, "name"),
        ("parties", {"role": "respondent", "name": "王\n五"}, "name"),
        ("parties", {"role": "respondent", "name": "x" * 101}, "name"),
        ("sessions", {"scheduled_at": "0001-01-01T00:00:00+14:00", "place": "x"}, "scheduled_at"),
        ("sessions", {"scheduled_at": "2101-01-01T00:00:00Z", "place": "x"}, "scheduled_at"),
        ("sessions", {"scheduled_at": "2099-01-01T00:00:00Z", "place": "x" * 501}, "place"),
        (
            "outcome",
            {"kind": "agreement", "terms": "t", "performance_deadline": "0001-01-01T00:00:00Z"},
            "performance_deadline",
        ),
        (
            "outcome",
            {"kind": "failed", "amounts": [{"description": "d", "amount": "1"}] * 51},
            "amounts",
        ),
        ("accept", {"mediator_id": "m 1"}, "mediator_id"),
        ("decline", {"reason": "r" * 2001}, "reason"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    uow: FakeMediationUnitOfWork, path: str, body: dict[str, Any], field: str
) -> None:
    mid = await opened(uow)
    async with client_as(uow, "hub_operator") as client:
        refused(await client.post(f"/mediations/{mid}/{path}", json=body), 422, field)


async def test_bad_ids_limits_and_roster_names_are_refused(uow: FakeMediationUnitOfWork) -> None:
    new = {"mediator_id": "m-9", "name": "李\x1f四", "level": "grid", "area_code": "140302001"}
    async with (
        client_as(uow, "hub_operator") as hub,
        client_as(uow, "administrator") as admin,
    ):
        refused(await hub.get("/mediations/" + "m" * 65), 422, "mediation_id")
        refused(await hub.get("/mediations", params={"case_id": "c" * 129}), 422, "case_id")
        refused(await hub.get("/mediations", params={"limit": 501}), 422, "limit")
        refused(await hub.get("/mediators", params={"limit": 0}), 422, "limit")
        refused(await admin.post("/mediators", json=new), 422, "name")
        renamed = await admin.patch("/mediators/m-140302001-grid-1", json={"name": "\x7f"})
        refused(renamed, 422, "name")
        ok = await admin.patch("/mediators/m-140302001-grid-1", json={"name": "  王芳 "})
        assert ok.json()["name"] == "王芳"


async def test_a_district_dispute_is_for_a_county_mediator_not_a_township_one(
    uow: FakeMediationUnitOfWork,
) -> None:
    no_grid = routed(micro_grid=None)  # starts at the district rung: committee 140302
    case = await handlers.open_routed_dispute(
        uow=uow, envelope=Envelope(payload=no_grid, source="/t"), clock=ManualClock(NOW),
        policy=POLICY,
    )  # fmt: skip
    assert case is not None
    mid = case.mediation_id
    async with (
        client_as(uow, "mediator_140302001") as township,
        client_as(uow, "mediator_140302") as county,
    ):
        refused(await township.post(f"/mediations/{mid}/accept", json={}), 403, "authorization")
        assert (await county.post(f"/mediations/{mid}/accept", json={})).status_code == 200
