"""对账: the three services' lists of a period compared case by case; the route forwards
the caller's token and names a peer that fails; the command needs a token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from oversight_fakes import POLICY, T0, FakeReader, FakeRepository, FakeUnitOfWork, change
from test_oversight_access import NOW, authenticate, refused
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.problems import install_problem_details
from yiwang.common.states import CaseState as S
from yiwang.oversight import cli
from yiwang.oversight.adapters.peers import PeerFailed, Peers
from yiwang.oversight.domain.reconciliation import (
    Disagreement,
    DispatchCase,
    IntakeCase,
    ProjectedCase,
    reconcile,
)
from yiwang.oversight.entrypoints.http import REFUSALS
from yiwang.oversight.entrypoints.http_ledgers import ledger_router
from yiwang.oversight.handlers.projection import record_event

D = Disagreement
UM = Department.URBAN_MANAGEMENT


def test_every_case_they_disagree_on_is_listed_with_what_each_says() -> None:
    result = reconcile(
        intake={
            "ok": IntakeCase("ok", "dispatched"),
            "lost-o": IntakeCase("lost-o", "routed"),
            "lost-d": IntakeCase("lost-d", "dispatched"),
            "moved": IntakeCase("moved", "dispatched"),
            "unseen": IntakeCase("unseen", "routed"),
        },
        dispatch={
            "ok": DispatchCase("ok", "dispatched", 1),
            "lost-o": DispatchCase("lost-o", "dispatched", 1),
            "moved": DispatchCase("moved", "acknowledged", 1),
            "unseen": DispatchCase("unseen", "dispatched", 1),
            "ghost": DispatchCase("ghost", "dispatched", 1),
        },
        oversight={
            "ok": ProjectedCase("ok", "dispatched", True),
            "lost-d": ProjectedCase("lost-d", "dispatched", True),
            "moved": ProjectedCase("moved", "acknowledged", True),
            "unseen": ProjectedCase("unseen", "routed", False),
            "ghost": ProjectedCase("ghost", "dispatched", True),
        },
    )
    found = {c.case_id: c.disagreements for c in result.cases}
    assert found == {
        "ghost": (D.MISSING_IN_INTAKE,),
        "lost-d": (D.MISSING_IN_DISPATCH,),
        "lost-o": (D.MISSING_IN_OVERSIGHT,),
        "moved": (D.STATE_DIFFERS,),
        "unseen": (D.DISPATCH_UNSEEN,),
    }
    assert (result.counts.intake, result.counts.department_dispatch) == (5, 5)
    assert (result.counts.oversight, result.counts.oversight_dispatched) == (5, 4)
    assert not result.agreed


class FakePeers(Peers):
    def __init__(self, *, fail: PeerFailed | None = None) -> None:
        self.asked_with: list[str] = []
        self.fail = fail

    async def intake_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, IntakeCase], bool]:
        self.asked_with.append(authorization)
        if self.fail:
            raise self.fail
        return {"c1": IntakeCase("c1", "dispatched"), "c2": IntakeCase("c2", "received")}, False

    async def dispatch_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, DispatchCase], bool]:
        self.asked_with.append(authorization)
        return {"c1": DispatchCase("c1", "dispatched", 1)}, False


async def projected() -> FakeUnitOfWork:
    uow = FakeUnitOfWork(FakeRepository())
    for envelope in (
        change("c1", 0, None, S.RECEIVED, actor="intake"),
        change("c1", 1, S.RECEIVED, S.ROUTED, department=UM),
        change("c1", 2, S.ROUTED, S.DISPATCHED, department=UM),
    ):
        await record_event(uow=uow, envelope=envelope, now=T0, policy=POLICY)
    return uow


@asynccontextmanager
async def client_as(peers: Peers, who: str | None) -> AsyncIterator[httpx.AsyncClient]:
    uow = await projected()
    app = FastAPI()
    reader = FakeReader(uow.repository)
    app.include_router(
        ledger_router(
            reader=lambda: reader, clock=ManualClock(NOW), authenticate=authenticate, peers=peers
        )
    )
    install_problem_details(app, refusals=REFUSALS)
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oversight", headers=headers
    ) as client:
        yield client


PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}


async def test_the_route_forwards_the_callers_token_and_lists_the_disagreements() -> None:
    peers = FakePeers()
    async with client_as(peers, "auditor") as auditor:
        response = await auditor.get("/reconciliation", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert peers.asked_with == ["Bearer auditor", "Bearer auditor"]
    assert body["counts"] == {
        "intake": 2,
        "department_dispatch": 1,
        "oversight": 1,
        "oversight_dispatched": 1,
    }
    assert [(c["case_id"], c["disagreements"]) for c in body["cases"]] == [
        ("c2", ["missing_in_oversight"])
    ]
    async with client_as(peers, "hub") as hub:
        csv = await hub.get("/reconciliation", params={**PERIOD, "format": "csv"})
    assert csv.text.splitlines()[1].startswith("c2,missing_in_oversight,received,")


async def test_only_auditors_and_the_hub_reconcile_and_a_failing_peer_is_named() -> None:
    for who, status in (("east", 403), ("staff_um", 403), ("administrator", 403), (None, 401)):
        async with client_as(FakePeers(), who) as client:
            response = await client.get("/reconciliation", params=PERIOD)
            assert response.status_code == status, (who, response.text)
    down = FakePeers(fail=PeerFailed("intake", "unreachable (ConnectError)", status=503))
    async with client_as(down, "auditor") as auditor:
        response = await auditor.get("/reconciliation", params=PERIOD)
    refused(response, 503, "intake")
    async with client_as(FakePeers(), "auditor") as auditor:
        refused(
            await auditor.get("/reconciliation", params={"from": "2026-03-02", "to": "2026-03-01"}),
            422,
            "to",
        )


class Context:
    def __init__(self) -> None:
        self.clock = ManualClock(T0 + timedelta(days=1))
        self.settings = object()
        self.pool = None


async def test_the_command_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.TOKEN_VARIABLE, raising=False)
    ctx: Any = Context()
    with pytest.raises(cli.CommandRefused, match=cli.TOKEN_VARIABLE):
        await cli.print_reconciliation(
            ctx, first=T0.date(), last=T0.date(), format=cli.Format.JSON, peers=FakePeers()
        )
