"""Receipts routed a poll at a time: one transaction, each case once, decisions as if
each case had been routed alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from routing_fakes import FakeRoutedCases, FakeUnitOfWork, received
from yiwang.common.case import CoordinateSystem, Location
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseRouted, CaseStateChanged, GridWorkerReport
from yiwang.common.geo import wgs84_to_gcj02
from yiwang.common.states import CaseState
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.handlers import routing


def located(envelope: Envelope[CaseReceived], **location: Any) -> Envelope[CaseReceived]:
    facts = envelope.payload.case.model_copy(update={"location": Location(**location)})
    return dataclasses.replace(
        envelope, payload=envelope.payload.model_copy(update={"case": facts})
    )


def again(envelope: Envelope[CaseReceived]) -> Envelope[CaseReceived]:
    """The same receipt redelivered under another event id."""
    return Envelope(payload=envelope.payload, source=envelope.source)


def mixed_receipts(index: GridIndex) -> list[Envelope[CaseReceived]]:
    """Every way a case can be placed, or not, and several categories."""
    grid = index.micro_grid_refs
    point = received(index, position=20).payload.case.location
    assert point.lon is not None
    assert point.lat is not None
    gcj_lon, gcj_lat = wgs84_to_gcj02(point.lon, point.lat)
    worker = received(index, "sanitation", case_id="c-worker", position=30)
    worker = dataclasses.replace(
        worker,
        payload=worker.payload.model_copy(
            update={"grid_worker": GridWorkerReport(worker_id="w1", micro_grid_hint=grid[31].code)}
        ),
    )
    return [
        received(index, "gas-leak", case_id="c-point", position=4),
        received(index, "neighbour-dispute", case_id="c-dispute", position=11),
        received(index, "other", case_id="c-other", position=5),
        located(received(index, case_id="c-outside"), lon=100.0, lat=30.0),
        located(
            received(index, "food-safety", case_id="c-gcj"),
            lon=gcj_lon,
            lat=gcj_lat,
            crs=CoordinateSystem.GCJ02,
        ),
        located(received(index, "streetlight", case_id="c-hint"), micro_grid_hint=grid[7].code),
        located(received(index, "elderly-care", case_id="c-admin"), admin_code="140399002"),
        located(received(index, "noise", case_id="c-address"), address="某街道某号"),
        worker,  # its point and its grid worker's hint disagree
    ]


async def test_a_batch_routes_every_case_as_it_would_be_routed_alone(
    uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix, kw: dict[str, Any]
) -> None:
    receipts = mixed_receipts(tiny_index)
    routed_ids = await routing.route_received_cases(envelopes=receipts, **kw)
    assert routed_ids == [e.payload.case_id for e in receipts]
    assert uow.cases.saves == [routed_ids]  # one write for the lot
    alone: list[Any] = []
    for envelope in receipts:
        one = FakeUnitOfWork()
        await routing.route_received_cases(envelopes=[envelope], **{**kw, "uow": one})
        alone += one.committed
    assert uow.committed == alone
    assert [type(e) for _, e in uow.committed] == [CaseRouted, CaseStateChanged] * len(receipts)
    rules = {e.case_id: e.rule_id for _, e in uow.committed if isinstance(e, CaseRouted)}
    assert rules == {
        "c-point": "matrix/2026.1/gas-leak",
        "c-dispute": "matrix/2026.1/neighbour-dispute",
        "c-other": "matrix/2026.1/other",
        "c-outside": "triage/outside-grid",
        "c-gcj": "matrix/2026.1/food-safety",
        "c-hint": "matrix/2026.1/streetlight",
        "c-admin": "matrix/2026.1/elderly-care",
        "c-address": "triage/unlocated",
        "c-worker": "triage/conflicting-hints",
    }
    assert [(c, d.trigger, d.decision.attempt) for c, d in uow.cases.decisions] == [
        (c, "received", 1) for c in routed_ids
    ]


async def test_a_case_twice_in_one_batch_is_routed_once(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    first = received(tiny_index, case_id="c-1")
    other = received(tiny_index, "sanitation", case_id="c-2", position=9)
    batch = [first, other, first, again(first)]  # a redelivery and a re-sent receipt
    assert await routing.route_received_cases(envelopes=batch, **kw) == ["c-1", "c-2"]
    routed = [e for _, e in uow.committed if isinstance(e, CaseRouted)]
    assert [r.case_id for r in routed] == ["c-1", "c-2"]
    assert [c for c, _ in uow.cases.decisions] == ["c-1", "c-2"]
    assert {event_id for _, event_id in uow.inbox} == {first.id, other.id, batch[3].id}


async def test_a_case_routed_in_an_earlier_batch_is_not_routed_again(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    first = received(tiny_index, case_id="c-1")
    await routing.route_received_cases(envelopes=[first], **kw)
    newcomer = received(tiny_index, "sanitation", case_id="c-2", position=9)
    batch = [again(first), newcomer, first]
    assert await routing.route_received_cases(envelopes=batch, **kw) == ["c-2"]
    assert [e.case_id for e in uow.committed_of(CaseRouted)] == ["c-1", "c-2"]
    assert uow.cases.cases["c-1"].attempts == 1
    assert uow.cases.cases["c-2"].state is CaseState.ROUTED
    assert [d.decision.attempt for _, d in uow.cases.decisions] == [1, 1]


async def test_a_batch_of_known_receipts_writes_nothing(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    first = received(tiny_index, case_id="c-1")
    await routing.route_received_cases(envelopes=[first], **kw)
    assert await routing.route_received_cases(envelopes=[first, again(first)], **kw) == []
    assert uow.cases.saves == [["c-1"]]
    assert len(uow.committed) == 2


class Broken(RuntimeError):
    pass


class BrokenHistory(FakeRoutedCases):
    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        raise Broken("the routing history cannot be written")


async def test_a_failing_batch_leaves_nothing_behind(
    tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    uow = FakeUnitOfWork(BrokenHistory())
    batch = [received(tiny_index, case_id="c-1"), received(tiny_index, case_id="c-2")]
    with pytest.raises(Broken):
        await routing.route_received_cases(envelopes=batch, **{**kw, "uow": uow})
    assert uow.inbox == set()
    assert uow.cases.cases == {}
    assert uow.committed == []
