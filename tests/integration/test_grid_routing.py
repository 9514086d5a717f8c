"""grid-routing as a separate process on real Kafka and PostgreSQL: routing, return,
re-routing, arbitration, triage, and grid set versions imported with the CLI."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from service_fixtures import service_under_test
from support import ServiceProcess, bearer, case_payloads, new_topic_prefix, publish_events
from waiting import wait_until
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseLeftMediation,
    CaseReceived,
    CaseReturned,
    CaseRouted,
    CaseStateChanged,
    MediationOutcome,
)
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RECEIVED, CASE_RETURNED, CASE_ROUTED
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.geojson import read_feature_collections

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()


routing_service = service_under_test(
    "yiwang.grid_routing.app",
    prefix=PREFIX,
    env={"GRID_ROUTING_BOOTSTRAP_PRESET": "tiny", "GRID_ROUTING_CHECK_SECONDS": "0.5"},
)


@pytest.fixture(scope="module")
def routing(routing_service: ServiceProcess) -> ServiceProcess:
    """grid-routing is ready before its bootstrap grid set is imported: wait for the set
    (read as a person signed in at the identity provider: the grid is not public)."""

    def grid_sets() -> Any:
        try:
            answer = httpx.get(
                f"{routing_service.url}/grid-sets", headers=bearer("auditor"), timeout=2
            )
        except httpx.HTTPError:
            return None
        return answer.status_code == 200 and answer.json()

    if not wait_until(grid_sets, within=90):
        pytest.fail(
            f"grid-routing loaded no grid set: {routing_service.log_path.read_text()[-2000:]}"
        )
    return routing_service


def _tiny_point(position: int) -> tuple[float, float]:
    network, _ = read_feature_collections(generate_county("tiny").items())
    micro_grid = sorted(network.micro_grids, key=lambda m: m.code)[position]
    point = shapely.point_on_surface(micro_grid.polygon)
    return float(point.x), float(point.y)


def _received(case_id: str, category: str, lon: float, lat: float) -> Envelope[CaseReceived]:
    facts = CaseFacts(
        case_id=case_id,
        case_number=f"YQ-{case_id}",
        category=category,
        title="燃气味",
        description="楼道里有燃气味",
        channel=Channel.HOTLINE,
        location=Location(lon=lon, lat=lat),
    )
    received = CaseReceived(case_id=case_id, case=facts, received_at=datetime.now(UTC))
    return Envelope(payload=received, source="/yiwang/test")


def _returned(case_id: str, department: Department, count: int) -> Envelope[CaseReturned]:
    payload = CaseReturned(
        case_id=case_id,
        department=department,
        reason_code="not-ours",
        reason="不属于本部门职责",
        return_count=count,
    )
    return Envelope(payload=payload, source="/yiwang/test")


async def _publish(kafka: str, *items: tuple[Envelope[Any], str]) -> None:
    await publish_events(kafka, *((topic, envelope) for envelope, topic in items), prefix=PREFIX)


async def _events(kafka: str, topic: str, case_id: str, expect: int) -> list[Any]:
    """With a settle read: an unexpected extra record would show up."""
    return await case_payloads(kafka, PREFIX + topic, case_id, expect=expect, within=30, settle=0.5)


async def test_return_reroute_and_arbitration(routing: ServiceProcess, kafka: str) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    lon, lat = _tiny_point(4)
    first = _received(case_id, "gas-leak", lon, lat)
    await _publish(kafka, (first, CASE_RECEIVED), (first, CASE_RECEIVED))  # one redelivery
    [routed] = await _events(kafka, CASE_ROUTED, case_id, 1)
    assert isinstance(routed, CaseRouted)
    assert routed.lead_department is Department.EMERGENCY_MANAGEMENT
    assert not routed.triage
    assert routed.micro_grid is not None
    assert set(routed.department_units) == set(Department)

    await _publish(kafka, (_returned(case_id, Department.EMERGENCY_MANAGEMENT, 1), CASE_RETURNED))
    rerouted = (await _events(kafka, CASE_ROUTED, case_id, 2))[1]
    assert rerouted.lead_department is Department.UTILITIES
    assert rerouted.excluded_departments == (Department.EMERGENCY_MANAGEMENT,)
    assert rerouted.rule_id == "reroute/2026.1/gas-leak"
    assert rerouted.attempt == 2

    await _publish(kafka, (_returned(case_id, Department.UTILITIES, 2), CASE_RETURNED))
    routes = await _events(kafka, CASE_ROUTED, case_id, 3)
    assert len(routes) == 3
    arbitration = routes[2]
    assert arbitration.triage
    assert arbitration.rule_id == "arbitration/second-return"
    assert arbitration.lead_department is Department.COMPREHENSIVE_GOVERNANCE
    assert "returned 2 times" in arbitration.reason

    changes = await _events(kafka, CASE_LIFECYCLE, case_id, 3)
    assert all(isinstance(c, CaseStateChanged) for c in changes)
    assert [(c.from_state, c.to_state) for c in changes] == [
        (CaseState.RECEIVED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
    ]
    async with httpx.AsyncClient() as client:
        history = (
            await client.get(
                f"{routing.url}/cases/{case_id}/routing", headers=bearer("hub_operator")
            )
        ).json()
    assert [h["rule_id"] for h in history] == [r.rule_id for r in routes]


async def test_a_case_outside_every_grid_goes_to_triage(
    routing: ServiceProcess, kafka: str
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    await _publish(kafka, (_received(case_id, "sanitation", 112.0, 36.5), CASE_RECEIVED))
    [routed] = await _events(kafka, CASE_ROUTED, case_id, 1)
    assert routed.triage
    assert routed.rule_id == "triage/outside-grid"
    assert routed.lead_department is Department.COMPREHENSIVE_GOVERNANCE


async def test_a_dispute_mediation_declined_goes_to_its_lead_department(
    routing: ServiceProcess, kafka: str
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    received = _received(case_id, "neighbour-dispute", *_tiny_point(4))
    await _publish(kafka, (received, CASE_RECEIVED))
    [to_mediation] = await _events(kafka, CASE_ROUTED, case_id, 1)
    assert to_mediation.to_mediation
    left = CaseLeftMediation(case_id=case_id, mediation_id="med-1",
                             outcome=MediationOutcome.DECLINED,
                             reason="mediation declined at grid:140302001002001")  # fmt: skip
    envelope = Envelope(payload=left, source="/yiwang/mediation")
    await _publish(kafka, (envelope, CASE_RETURNED), (envelope, CASE_RETURNED))  # redelivered
    routes = await _events(kafka, CASE_ROUTED, case_id, 2)
    assert len(routes) == 2
    again = routes[1]
    assert (again.lead_department, again.to_mediation, again.triage) == (
        Department.JUSTICE,
        False,
        False,
    )
    assert again.rule_id == "after-mediation/2026.1/neighbour-dispute"
    assert again.excluded_departments == ()
    changes = await _events(kafka, CASE_LIFECYCLE, case_id, 2)
    assert [(c.from_state, c.to_state) for c in changes] == [
        (CaseState.RECEIVED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
    ]
    async with httpx.AsyncClient() as client:
        history = (
            await client.get(
                f"{routing.url}/cases/{case_id}/routing", headers=bearer("hub_operator")
            )
        ).json()
        metrics = (await client.get(f"{routing.url}/metrics")).text
    assert [h["trigger"] for h in history] == ["received", "mediation"]
    counted = '{rule="after-mediation",tier="township",trigger="mediation"} 1.0'
    assert f"yiwang_routing_decisions_total{counted}" in metrics


def test_cli_import_switches_a_new_version_in_and_keeps_the_previous(
    routing: ServiceProcess, tmp_path: Path
) -> None:
    cli = routing.cli
    generated = cli("generate", "--preset", "tiny", "--seed", "9", "--out", str(tmp_path))
    assert generated.returncode == 0, generated.stderr
    imported = cli("import", str(tmp_path), "--label", "tiny seed 9")
    assert imported.returncode == 0, imported.stderr
    assert "grid set v2 imported and active" in imported.stderr
    versions = httpx.get(f"{routing.url}/grid-sets", headers=bearer("auditor")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)]
    listed = cli("list")
    assert "tiny seed 9" in listed.stdout
    # The running service follows the switch: a point of the new version resolves.
    lon, lat = _tiny_point(0)
    located = wait_until(
        lambda: httpx.get(
            f"{routing.url}/locate", params={"lon": lon, "lat": lat}, headers=bearer("auditor")
        ).json(),
        until=lambda found: found.get("grid_set") == 2,
        within=15,
    )
    assert located.get("grid_set") == 2, "the service did not switch to grid set v2"


def test_cli_refuses_a_broken_file_naming_the_features(
    routing: ServiceProcess, tmp_path: Path
) -> None:
    collections = generate_county("tiny")
    features = collections["admin"]["features"]
    orphan = next(f for f in features if f["properties"]["level"] == "micro_grid")
    orphan["properties"]["parent_code"] = "nowhere"
    for layer, collection in collections.items():
        (tmp_path / f"{layer}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    result = routing.cli("import", str(tmp_path))
    assert result.returncode == 1
    assert f"orphan in admin/micro_grid [{orphan['properties']['code']}]" in result.stderr
    assert "its parent 'nowhere' is not in the file" in result.stderr
    repaired = routing.cli("import", str(tmp_path), "--repair")
    assert repaired.returncode == 0, repaired.stderr


def test_who_may_read_with_real_tokens(routing: ServiceProcess) -> None:
    """Every person who signs in reads the grid; a case's routing decisions are for the hub,
    auditors and administrators; without a credential nothing."""
    lon, lat = _tiny_point(1)
    paths = {
        "grid-sets": ("/grid-sets", {}),
        "locate": ("/locate", {"lon": lon, "lat": lat}),
        "routing": ("/cases/c-unrouted/routing", {}),
    }
    expected = {
        None: {"grid-sets": 401, "locate": 401, "routing": 401},
        "staff_urban_management": {"grid-sets": 200, "locate": 200, "routing": 403},
        "township_140399001": {"grid-sets": 200, "locate": 200, "routing": 403},
        "mediator_140399": {"grid-sets": 200, "locate": 200, "routing": 403},
        "hotline_operator": {"grid-sets": 200, "locate": 200, "routing": 403},
        "auditor": {"grid-sets": 200, "locate": 200, "routing": 404},
        "administrator": {"grid-sets": 200, "locate": 200, "routing": 404},
    }
    for who, statuses in expected.items():
        headers = bearer(who) if who else {}
        got = {
            name: httpx.get(f"{routing.url}{path}", params=params, headers=headers).status_code
            for name, (path, params) in paths.items()
        }
        assert got == statuses, who
    refused = httpx.get(f"{routing.url}/grid-sets").json()
    assert refused["errors"] == [{"field": "authorization", "reason": refused["detail"]}]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/locate", {"lon": "nan", "lat": 37.8}, 422, "lon"),
        ("/locate", {"lon": 113.5, "lat": "-inf"}, 422, "lat"),
        ("/locate", {"lon": 113.5, "lat": 91}, 422, "lat"),
        ("/locate", {"lon": "1e999", "lat": 37.8}, 422, "lon"),
        ("/cases/" + "c" * 129 + "/routing", {}, 422, "case_id"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    routing: ServiceProcess, path: str, params: dict[str, Any], status: int, field: str
) -> None:
    answer = httpx.get(f"{routing.url}{path}", params=params, headers=bearer("hub_operator"))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
