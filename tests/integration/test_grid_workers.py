"""Grid workers (五大员) and their tasks (小事不出网格) at grid-routing, a separate process on
real Kafka, PostgreSQL and the identity provider: the synthetic roster comes with the
synthetic grid set; a roster is imported with the CLI or over HTTP, and refused whole,
row named, when a row is bad; a grid-tier matter becomes its micro-grid worker's task,
which only a worker of that micro-grid may act on (others are refused and audited)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shapely
from service_fixtures import service_under_test
from support import ServiceProcess, bearer, case_payloads, new_topic_prefix, publish_events
from waiting import wait_until
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseStateChanged, GridTaskAssigned
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RECEIVED, GRID_TASKS
from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster
from yiwang.grid_routing.domain.geojson import read_feature_collections

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
TINY = generate_county("tiny")
ROSTER = synthetic_roster(TINY["admin"])

workers_service = service_under_test(
    "yiwang.grid_routing.app",
    prefix=PREFIX,
    env={"GRID_ROUTING_BOOTSTRAP_PRESET": "tiny", "GRID_ROUTING_CHECK_SECONDS": "0.5"},
)


@pytest.fixture(scope="module")
def routing(workers_service: ServiceProcess) -> ServiceProcess:
    """Ready once the bootstrap grid set and roster are stored."""

    def workers() -> Any:
        try:
            answer = httpx.get(
                f"{workers_service.url}/grid-workers", headers=bearer("auditor"), timeout=2
            )
        except httpx.HTTPError:
            return None
        return answer.status_code == 200 and answer.json()["workers"]

    if not wait_until(workers, within=90):
        pytest.fail(f"no roster loaded: {workers_service.log_path.read_text()[-2000:]}")
    return workers_service


def _point(micro_grid: str) -> tuple[float, float]:
    network, _ = read_feature_collections(TINY.items())
    [unit] = [m for m in network.micro_grids if m.code == micro_grid]
    point = shapely.point_on_surface(unit.polygon)
    return float(point.x), float(point.y)


def _received(case_id: str, category: str, micro_grid: str) -> Envelope[CaseReceived]:
    lon, lat = _point(micro_grid)
    facts = CaseFacts(
        case_id=case_id, case_number=f"YQ-{case_id}", category=category, title="垃圾堆积",
        description="楼下垃圾三天没人清运", channel=Channel.HOTLINE,
        location=Location(lon=lon, lat=lat),
    )  # fmt: skip
    received = CaseReceived(case_id=case_id, case=facts, received_at=datetime.now(UTC))
    return Envelope(payload=received, source="/yiwang/test")


def test_the_synthetic_roster_is_listed_with_each_workers_load(routing: ServiceProcess) -> None:
    answer = httpx.get(
        f"{routing.url}/grid-workers", params={"limit": 500}, headers=bearer("hub_operator")
    )
    assert answer.status_code == 200, answer.text
    listed = answer.json()["workers"]
    assert [w["worker_id"] for w in listed] == sorted(r["worker_id"] for r in ROSTER)
    assert all(len(w["roles"]) == 5 and w["open_tasks"] == 0 for w in listed)
    one = httpx.get(
        f"{routing.url}/grid-workers",
        params={"micro_grid": ROSTER[0]["micro_grids"].split(";")[1]},
        headers=bearer("township_140399001"),
    ).json()["workers"]
    assert [w["worker_id"] for w in one] == [ROSTER[0]["worker_id"]]
    refused = httpx.get(f"{routing.url}/grid-workers", headers=bearer("staff_health"))
    assert refused.status_code == 403


def test_cli_import_refuses_a_bad_row_and_switches_a_good_roster_in(
    routing: ServiceProcess, tmp_path: Path
) -> None:
    generated = routing.cli("roster", "generate", "--preset", "tiny", "--out",
                            str(tmp_path / "roster.csv"))  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    text = (tmp_path / "roster.csv").read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(text + "gw-new,新人,99999999999999999,agent\ngw-none,无角色,"
                   + ROSTER[0]["micro_grids"] + ",\n", encoding="utf-8")  # fmt: skip
    refused = routing.cli("roster", "import", str(bad))
    assert refused.returncode == 1
    row = len(ROSTER) + 1
    assert f"row {row} (worker gw-new): micro-grid 99999999999999999 is not in grid set v1" in (
        refused.stderr
    )
    assert f"row {row + 1} (worker gw-none): has no role" in refused.stderr
    imported = routing.cli("roster", "import", str(tmp_path / "roster.csv"), "--label", "again")
    assert imported.returncode == 0, imported.stderr
    assert "roster v2 imported and active" in imported.stderr
    listed = routing.cli("roster", "list")
    assert "again" in listed.stdout
    versions = httpx.get(f"{routing.url}/rosters", headers=bearer("auditor")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)]


def test_http_import_is_for_administrators_and_names_the_bad_rows(
    routing: ServiceProcess,
) -> None:
    body = {"csv": "worker_id,name,micro_grids,roles\nw-1,王建国,nowhere,agent\n"}
    assert (
        httpx.post(f"{routing.url}/rosters", json=body, headers=bearer("auditor")).status_code
        == 403
    )
    answer = httpx.post(f"{routing.url}/rosters", json=body, headers=bearer("administrator"))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "roster_rejected"
    assert problem["errors"] == [
        {"field": "csv", "reason": "row 1 (worker w-1): micro-grid nowhere is not in grid set v1"}
    ]
    unknown = httpx.post(f"{routing.url}/rosters/99/activate", headers=bearer("administrator"))
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "version"


async def test_a_grid_task_is_for_its_micro_grids_worker_only(
    routing: ServiceProcess, kafka: str
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    worker, other = ROSTER[0], ROSTER[1]
    micro_grid = worker["micro_grids"].split(";")[0]
    await publish_events(kafka, (CASE_RECEIVED, _received(case_id, "sanitation", micro_grid)),
                         prefix=PREFIX)  # fmt: skip
    [assigned] = await case_payloads(kafka, PREFIX + GRID_TASKS, case_id, expect=1, within=30)
    assert isinstance(assigned, GridTaskAssigned)
    assert (assigned.worker_id, assigned.micro_grid.code) == (worker["worker_id"], micro_grid)
    [changed] = await case_payloads(kafka, PREFIX + CASE_LIFECYCLE, case_id, expect=1, within=30)
    assert isinstance(changed, CaseStateChanged)
    assert (changed.to_state, changed.micro_grid) == (CaseState.IN_GRID, micro_grid)
    assert changed.township_code == micro_grid[:9]

    url = f"{routing.url}/grid-tasks"
    me, them = bearer(worker["worker_id"]), bearer(other["worker_id"])
    task_url = f"{url}/{assigned.task_id}"
    async with httpx.AsyncClient(timeout=15) as client:
        mine = (await client.get(url, headers=me)).json()
        assert [t["task_id"] for t in mine["tasks"]] == [assigned.task_id]
        assert (await client.get(url, headers=them)).json()["tasks"] == []
        loads = await client.get(
            f"{routing.url}/grid-workers", params={"micro_grid": micro_grid},
            headers=bearer("auditor"),
        )  # fmt: skip
        assert loads.json()["workers"][0]["open_tasks"] == 1

        refused = await client.post(f"{task_url}/settle", json={"note": "不是我的网格"},
                                    headers=them)  # fmt: skip
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "not_serving_micro_grid"
        bad = await client.post(f"{task_url}/settle", headers=me,
                                json={"note": "", "photo_urls": ["file:///x"]})  # fmt: skip
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"note", "photo_urls.0"}
        acknowledged = await client.post(f"{task_url}/acknowledge", headers=me)
        assert acknowledged.status_code == 200
        settled = await client.post(
            f"{task_url}/settle",
            json={"note": "已清运", "photo_urls": ["https://photos.example/a.jpg"]},
            headers=me,
        )
        assert settled.status_code == 200, settled.text
        assert settled.json()["status"] == "settled"
        again = await client.post(f"{task_url}/pass-up", json={"reason": "再报"}, headers=me)
        assert again.status_code == 409
        missing = await client.post(f"{url}/gt-nothing/acknowledge", headers=me)
        assert missing.status_code == 404

        # 宣传员: the worker tells the residents, and the notice is recorded on the case.
        notices = f"{routing.url}/cases/{case_id}/notices"
        posted = await client.post(notices, json={"text": "每周二、五清运垃圾"}, headers=me)
        assert posted.status_code == 201, posted.text
        refused = await client.post(notices, json={"text": "不是我的"}, headers=them)
        assert refused.status_code == 403
        recorded = (await client.get(notices, headers=bearer("auditor"))).json()
        assert [(n["worker_id"], n["text"]) for n in recorded] == [
            (worker["worker_id"], "每周二、五清运垃圾")
        ]

        # 协管员: the case's township asks the micro-grid's assistant to help on site.
        ask = f"{routing.url}/cases/{case_id}/assist-requests"
        other_township = await client.post(ask, json={"note": "协助"},
                                           headers=bearer("township_140399002"))  # fmt: skip
        assert other_township.status_code == 403
        asked = await client.post(ask, json={"note": "请协助入户核实"},
                                  headers=bearer(f"township_{micro_grid[:9]}"))  # fmt: skip
        assert asked.status_code == 201, asked.text
        assist_id = asked.json()["assist_id"]
        listed = (await client.get(url, headers=me)).json()["assists"]
        assert [a["assist_id"] for a in listed] == [assist_id]
        done_url = f"{routing.url}/assist-tasks/{assist_id}/done"
        assert (await client.post(done_url, json={"report": "x"}, headers=them)).status_code == 403
        done = await client.post(done_url, json={"report": "已协助核实"}, headers=me)
        assert done.status_code == 200, done.text
        assert (await client.post(done_url, json={"report": "x"}, headers=me)).status_code == 409
    conn = await asyncpg.connect(routing.database_url)
    try:
        audited = await conn.fetch(
            "SELECT actor, action, outcome FROM grid_routing.grid_task_audit"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in audited] == [(f"person:{other['worker_id']}", "settle", "refused")]
