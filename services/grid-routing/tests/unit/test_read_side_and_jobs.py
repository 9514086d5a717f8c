"""The HTTP read side answers refusals as problem details; the grid-loader job follows the
active grid set; routing decisions are counted once they committed, by bounded labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from routing_fakes import NOW, FakeRosters, FakeRoutedCases, FakeUnitOfWork, received
from yiwang.common.auth import Actor, Role, Unauthenticated
from yiwang.common.clock import ManualClock
from yiwang.common.events import CaseRouted
from yiwang.common.problems import install_problem_details
from yiwang.common.sla import GRID_DURATION
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository, GridSetSummary
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision, RoutingHistory
from yiwang.grid_routing.config import GridRoutingSettings
from yiwang.grid_routing.domain.errors import NoGridSet
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.network import GridNetwork
from yiwang.grid_routing.domain.progress import Progress
from yiwang.grid_routing.domain.rules import Rule, rule_kind
from yiwang.grid_routing.entrypoints.background import jobs
from yiwang.grid_routing.entrypoints.http import REFUSALS, http_router
from yiwang.grid_routing.handlers import grid_sets, routing


class FakeGridSets(GridSetRepository):
    def __init__(self) -> None:
        self.versions: list[GridNetwork] = []
        self.current: int | None = None

    async def add(
        self,
        network: GridNetwork,
        *,
        label: str,
        source: str,
        repairs: list[str],
        only_if_empty: bool = False,
        progress: Progress | None = None,
    ) -> int | None:
        if only_if_empty and self.versions:
            return None
        self.versions.append(network)
        self.current = len(self.versions)
        return self.current

    async def active(self) -> tuple[int, GridNetwork] | None:
        return None if self.current is None else (self.current, self.versions[self.current - 1])

    async def active_version(self) -> int | None:
        return self.current

    async def activate(self, version: int) -> None:
        self.current = version

    async def summaries(self) -> list[GridSetSummary]:
        return []


class NoHistory(RoutingHistory):
    async def of_case(self, case_id: str) -> list[dict[str, Any]]:
        return []


def read_side(index: GridIndex, history: type[RoutingHistory] = NoHistory) -> FastAPI:
    """The read side on fakes; the caller is named by an X-Test-Actor header (a role),
    standing in for the identity provider's token."""
    active_grid = ActiveGrid()
    active_grid.replace(index)

    async def authenticate(request: Request) -> Actor:
        role = request.headers.get("x-test-actor")
        if role is None:
            raise Unauthenticated("a credential is required")
        return Actor(id="u-1", name=f"{role}_1", roles=frozenset({Role(role)}), person=True)

    app = FastAPI()
    app.include_router(
        http_router(
            active_grid=active_grid,
            grid_sets=FakeGridSets,
            history=history,
            authenticate=authenticate,
        )
    )
    install_problem_details(app, refusals=REFUSALS)
    return app


def test_refusals_are_problem_details_naming_the_field(tiny_index: GridIndex) -> None:
    client = TestClient(read_side(tiny_index), headers={"X-Test-Actor": "hub-operator"})
    outside = client.get("/locate", params={"lon": 100.0, "lat": 30.0})
    assert outside.status_code == 404
    assert outside.headers["content-type"].startswith("application/problem+json")
    assert outside.json()["errors"] == [
        {"field": "(point)", "reason": "(100.0, 30.0) lies outside every micro-grid"}
    ]
    unknown = client.get("/cases/c-none/routing")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "case_id"
    assert unknown.json()["detail"] == "grid-routing has not routed case c-none"


async def test_the_grid_loader_bootstraps_then_follows_switches() -> None:
    repository, active_grid = FakeGridSets(), ActiveGrid()

    async def follow(preset: str) -> GridIndex | None:
        return await grid_sets.follow_active_grid(
            grid_sets=repository, active_grid=active_grid, bootstrap_preset=preset
        )

    with pytest.raises(NoGridSet):
        await follow("")
    first = await follow("tiny")
    assert first is not None
    assert (first.version, active_grid.version) == (1, 1)
    assert await follow("tiny") is None  # still current
    repository.versions.append(repository.versions[0])
    await repository.activate(2)
    assert active_grid.version == 1
    switched = await follow("tiny")
    assert switched is not None
    assert active_grid.version == 2


def test_the_grid_loader_and_the_grid_deadlines_are_supervised_jobs(
    matrix: ResponsibilityMatrix,
) -> None:
    settings = GridRoutingSettings.model_validate({"GRID_ROUTING_CHECK_SECONDS": 2})
    found = jobs(
        settings=settings,
        active_grid=ActiveGrid(),
        grid_sets=FakeGridSets,
        rosters=FakeRosters,
        uow=FakeUnitOfWork,
        matrix=matrix,
        clock=ManualClock(NOW),
        grid_duration=GRID_DURATION,
    )
    assert [job.name for job in found] == ["grid-loader", "grid-deadlines"]


def test_rule_kinds_are_bounded() -> None:
    assert rule_kind("matrix/2026.1/gas-leak") == "matrix"
    assert rule_kind("reroute/2026.1/gas-leak") == "reroute"
    assert rule_kind(Rule.OUTSIDE_GRID) == "triage/outside-grid"
    assert rule_kind(Rule.ARBITRATION) == "arbitration/second-return"
    assert rule_kind("triage/made-up") == "other"


def _counted(rule: str, tier: str, trigger: str = "received") -> float:
    labels = {"trigger": trigger, "rule": rule, "tier": tier}
    return REGISTRY.get_sample_value("yiwang_routing_decisions_total", labels) or 0.0


class BrokenHistory(FakeRoutedCases):
    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        raise RuntimeError("the routing history cannot be written")


async def test_decisions_are_counted_once_committed(
    tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    tier = "county"  # gas leaks are handled at county tier (the shipped matrix)
    before = _counted("matrix", tier)
    envelope = received(tiny_index, case_id="c-count")
    await routing.route_received_cases(envelopes=[envelope], **kw)
    await routing.route_received_cases(envelopes=[envelope], **kw)  # redelivered
    [routed] = kw["uow"].committed_of(CaseRouted)
    assert routed.tier == tier
    assert _counted("matrix", tier) == before + 1
    broken = FakeUnitOfWork(BrokenHistory())
    with pytest.raises(RuntimeError):
        await routing.route_received_cases(
            envelopes=[received(tiny_index, case_id="c-lost")], **{**kw, "uow": broken}
        )
    assert _counted("matrix", tier) == before + 1
