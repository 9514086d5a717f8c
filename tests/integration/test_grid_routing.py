"""grid-routing as a separate process on real Kafka and PostgreSQL: routing, return,
re-routing, arbitration, triage, and grid set versions imported with the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shapely
from support import read_topic
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, decode
from yiwang.common.events import CaseReceived, CaseReturned, CaseRouted, CaseStateChanged
from yiwang.common.kafka import EventProducer
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RECEIVED, CASE_RETURNED, CASE_ROUTED
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.geojson import read_feature_collections

pytestmark = pytest.mark.integration

PREFIX = f"t{uuid.uuid4().hex[:8]}."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def test_database(infra: dict[str, str]) -> Iterator[str]:
    base = infra["DATABASE_URL"]
    name = f"yiwang_gr_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def service_env(infra: dict[str, str], test_database: str) -> dict[str, str]:
    return {
        **os.environ,
        **infra,
        "DATABASE_URL": test_database,
        "YIWANG_TOPIC_PREFIX": PREFIX,
        "YIWANG_OUTBOX_POLL_SECONDS": "0.2",
        "GRID_ROUTING_BOOTSTRAP_PRESET": "tiny",
        "GRID_ROUTING_CHECK_SECONDS": "0.5",
    }


@pytest.fixture(scope="module")
def routing(service_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "yiwang.grid_routing.app"],
        env={**service_env, "YIWANG_HTTP_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                out = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"grid-routing exited during start-up:\n{out[-2000:]}")
            try:
                if httpx.get(f"{base}/grid-sets", timeout=1).json():
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        else:
            pytest.fail("grid-routing did not load its grid set in time")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


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
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        for envelope, topic in items:
            await producer.publish(envelope, topic=PREFIX + topic)
    finally:
        await producer.stop()


async def _events(kafka: str, topic: str, case_id: str, expect: int) -> list[Any]:
    deadline = time.monotonic() + 30
    mine: list[Any] = []
    while time.monotonic() < deadline:
        records = await read_topic(kafka, PREFIX + topic, expect=0, within=0.5, settle=0)
        mine = [decode(r.value, r.headers).payload for r in records if r.key == case_id.encode()]
        if len(mine) >= expect:
            await asyncio.sleep(0.5)  # an unexpected extra record would show up here
            records = await read_topic(kafka, PREFIX + topic, expect=0, within=0.5, settle=0)
            return [
                decode(r.value, r.headers).payload for r in records if r.key == case_id.encode()
            ]
    return mine


async def test_return_reroute_and_arbitration(routing: str, kafka: str) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    lon, lat = _tiny_point(4)
    first = _received(case_id, "gas-leak", lon, lat)
    await _publish(kafka, (first, CASE_RECEIVED), (first, CASE_RECEIVED))  # one redelivery
    [routed] = await _events(kafka, CASE_ROUTED, case_id, 1)
    assert isinstance(routed, CaseRouted)
    assert routed.lead_department is Department.EMERGENCY_MANAGEMENT
    assert not routed.triage
    assert routed.micro_grid is not None
    assert len(routed.department_units) == 6

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
        history = (await client.get(f"{routing}/cases/{case_id}/routing")).json()
    assert [h["rule_id"] for h in history] == [r.rule_id for r in routes]


async def test_a_case_outside_every_grid_goes_to_triage(routing: str, kafka: str) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    await _publish(kafka, (_received(case_id, "sanitation", 112.0, 36.5), CASE_RECEIVED))
    [routed] = await _events(kafka, CASE_ROUTED, case_id, 1)
    assert routed.triage
    assert routed.rule_id == "triage/outside-grid"
    assert routed.lead_department is Department.COMPREHENSIVE_GOVERNANCE


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yiwang.grid_routing.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_import_switches_a_new_version_in_and_keeps_the_previous(
    routing: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    generated = _cli(
        service_env, "generate", "--preset", "tiny", "--seed", "9", "--out", str(tmp_path)
    )
    assert generated.returncode == 0, generated.stderr
    imported = _cli(service_env, "import", str(tmp_path), "--label", "tiny seed 9")
    assert imported.returncode == 0, imported.stderr
    assert "grid set v2 imported and active" in imported.stderr
    versions = httpx.get(f"{routing}/grid-sets").json()
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)]
    listed = _cli(service_env, "list")
    assert "tiny seed 9" in listed.stdout
    # The running service follows the switch: a point of the new version resolves.
    lon, lat = _tiny_point(0)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (
            httpx.get(f"{routing}/locate", params={"lon": lon, "lat": lat}).json().get("grid_set")
            == 2
        ):
            break
        time.sleep(0.3)
    else:
        pytest.fail("the service did not switch to grid set v2")


def test_cli_refuses_a_broken_file_naming_the_features(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    collections = generate_county("tiny")
    features = collections["admin"]["features"]
    orphan = next(f for f in features if f["properties"]["level"] == "micro_grid")
    orphan["properties"]["parent_code"] = "nowhere"
    for layer, collection in collections.items():
        (tmp_path / f"{layer}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    result = _cli(service_env, "import", str(tmp_path))
    assert result.returncode == 1
    assert f"orphan in admin/micro_grid [{orphan['properties']['code']}]" in result.stderr
    assert "its parent 'nowhere' is not in the file" in result.stderr
    repaired = _cli(service_env, "import", str(tmp_path), "--repair")
    assert repaired.returncode == 0, repaired.stderr
