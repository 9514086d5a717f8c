"""Whole case journeys across the five services, as a county runs them: each service its
own process (as `make run` starts it), one database, one topic prefix, real Kafka and
PostgreSQL. Scenarios act only through public interfaces (intake's API and Open311, the
department topics and signed replies, oversight's API) and assert what users see.

Each scenario has its own category and place in the tiny synthetic county, so they do not
interfere. The escalation ladder (fast clock) and the petition calendar (clock set before
a holiday) run in their own modules: test_journeys_clock.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from journeys.observer import Wire
from journeys.steps import (
    dept_topic,
    evaluate,
    intake_case,
    kpis,
    lifecycle_reaches,
    locate,
    mediation_step,
    open311_shows,
    oversight_case,
    rate,
    reply,
    reply_over_http,
    report,
    states,
    submit,
    work_orders,
)
from journeys.system import County, county_fixtures
from yiwang.common.case import Location, SourceRef
from yiwang.common.events import SubmitCase, WhistleAttendanceRecorded
from yiwang.common.topics import INTAKE_SUBMISSIONS

pytestmark = pytest.mark.integration

EM, PS, MS, HEALTH = "emergency-management", "public-security", "market-supervision", "health"
CG, UM, HOUSING, NR = "comprehensive-governance", "urban-management", "housing", "natural-resources"
TOWNSHIP_1, TOWNSHIP_2 = "140399001", "140399002"
# Points inside known micro-grids of the tiny county (grid-routing's /locate confirms them).
FIRE = (113.5696, 37.8633)  # township 2
FOOD = (113.5543, 37.8545)  # township 1
BUILDING = (113.5514, 37.8637)  # township 1
RUBBISH = (113.5635, 37.8605)  # township 2
ROAD = (113.5727, 37.8515)  # township 2
YARD = (113.5575, 37.8667)  # township 1
# A county platform that traces: its request's W3C traceparent.
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


county, wire = county_fixtures(
    "journeys", departments=(EM, PS, MS, HEALTH, CG, UM, HOUSING, NR), townships=(TOWNSHIP_1,)
)


async def test_1_grid_worker_fire_hazard_to_evaluation_moves_the_three_rates(
    county: County, wire: Wire
) -> None:
    place = await locate(county, *FIRE)
    micro_grid = place["micro_grid"]
    assert micro_grid["township_code"] == TOWNSHIP_2
    by_department = await kpis(county, "department")
    by_township = await kpis(county, "township")

    body = report("grid_worker", "fire-hazard", FIRE, attributes={"hazard_level": "high"},
                  grid_worker={"worker_id": "gw-2-07", "micro_grid_hint": micro_grid["code"]})  # fmt: skip
    case_id = (await submit(county, body, traceparent=CALLER))["case_id"]

    [order] = await work_orders(wire, EM, case_id)
    # The caller's trace, through intake, grid-routing and dispatch (no exporter: light spans).
    assert wire.traces(dept_topic(EM), case_id) == {CALLER.split("-")[1]}
    assert order.role == "lead"
    assert order.micro_grid is not None
    assert order.micro_grid.code == micro_grid["code"]
    assert order.department_unit == place["department_units"][EM]
    assert order.command_level == "township"
    [assisting] = await work_orders(wire, PS, case_id)
    assert assisting.role == "assisting"

    secret = county.signing_secrets[EM]
    await wire.reply(reply(order, "acknowledge"), department=EM, secret=secret)
    await lifecycle_reaches(wire, case_id, "acknowledged")
    done = reply(
        order, "resolve", result="已清理楼道堆物", evidence_urls=("https://e.example/1.jpg",)
    )
    await wire.reply(done, department=EM, secret=secret)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, case_id, 5)

    case = await oversight_case(county, case_id, lambda c: c["state"] == "closed")
    assert states(case) == ["received", "routed", "dispatched", "acknowledged", "resolved",
                            "evaluated", "closed"]  # fmt: skip
    assert (case["lead_department"], case["township_code"]) == (EM, TOWNSHIP_2)
    assert case["micro_grid"] == micro_grid["code"]
    assert case["sla_policy"] == "hotline-emergency"
    assert case["overdue"] is False
    after_department = await kpis(county, "department")
    after_township = await kpis(county, "township")
    for before, after, group in (
        (by_department, after_department, EM),
        (by_township, after_township, TOWNSHIP_2),
    ):
        for kpi in ("response_rate", "resolution_rate", "satisfaction_rate"):
            was, now = rate(before, group, kpi), rate(after, group, kpi)
            assert (now[0] - was[0], now[1] - was[1]) == (1, 1), (group, kpi, was, now)


async def test_2_open311_food_safety_returned_twice_reaches_county_arbitration(
    county: County, wire: Wire
) -> None:
    form = {"api_key": county.intake_key, "service_code": "food-safety", "lat": str(FOOD[1]),
            "long": str(FOOD[0]), "description": "饭店后厨老鼠乱窜", "first_name": "雷",
            "last_name": "韩", "phone": "13900002222", "attribute[business_name]": "老王饭店"}  # fmt: skip
    async with county.client("intake") as client:
        created = await client.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    number = created.json()[0]["service_request_id"]
    case_id = (await intake_case(county, number))["case_id"]
    dispatched = "已派单至责任部门 Dispatched"

    first = await open311_shows(county, number, "市场监管局", dispatched)
    assert first["status"] == "open"
    [ms_order] = await work_orders(wire, MS, case_id)
    await reply_over_http(county, MS, ms_order, "return", reason_code="not_our_remit",
                          note="属卫生健康部门职责")  # fmt: skip

    second = await open311_shows(county, number, "卫健局", dispatched)
    assert second["status"] == "open"
    health_lead = [o for o in await work_orders(wire, HEALTH, case_id, 2) if o.role == "lead"]
    await reply_over_http(county, HEALTH, health_lead[0], "return", reason_code="not_our_remit",
                          note="经营场所食品问题归市场监管")  # fmt: skip

    third = await open311_shows(county, number, "综治中心", dispatched)
    assert third["status"] == "open"
    [hub_order] = await work_orders(wire, CG, case_id)
    assert hub_order.role == "lead"
    assert hub_order.command_level == "county"

    timeline = (await intake_case(county, number))["timeline"]
    steps = [(e["to"], e["actor"]) for e in timeline]
    assert [s for s, _ in steps] == ["received", "routed", "dispatched", "returned", "routed",
                                     "dispatched", "returned", "routed", "dispatched"]  # fmt: skip
    returns = [e for e in timeline if e["to"] == "returned"]
    assert [e["actor"] for e in returns] == [MS, HEALTH]
    assert "属卫生健康部门职责" in (returns[0]["note"] or "")
    routes = await wire.wait("case.routed.v1", case_id, lambda r: len(r) >= 3)
    assert [r.rule_id for r in routes][2] == "arbitration/second-return"
    alerts = await wire.wait("oversight.alerts.v1", case_id, what="bounced alert")
    assert [(a.kind, a.command_level) for a in alerts] == [("bounced", "county")]


async def test_5_township_whistle_one_department_in_time_one_missed(
    county: County, wire: Wire
) -> None:
    before = await kpis(county, "department")
    body = report("hotline", "illegal-construction", BUILDING,
                  hotline={"call_id": f"c-{uuid.uuid4().hex[:6]}", "operator_id": "op-3"})  # fmt: skip
    case_id = (await submit(county, body))["case_id"]
    await work_orders(wire, UM, case_id)
    async with county.client(
        "department-dispatch",
        Authorization=f"Bearer {county.dispatch_keys['township:' + TOWNSHIP_1]}",
    ) as client:
        blown = await client.post("/whistles", json={
            "case_id": case_id, "township_code": TOWNSHIP_1, "departments": [HOUSING, NR],
            "report_within_minutes": 0.1, "reason": "违建扩建，需住建、自然资源联合执法"})  # fmt: skip
    assert blown.status_code == 201, blown.text
    whistle_id = blown.json()["whistle_id"]
    summons = [
        o for o in await work_orders(wire, HOUSING, case_id, 2) if o.whistle_id == whistle_id
    ]
    await reply_over_http(county, HOUSING, summons[0], "acknowledge")  # natural resources: silent

    recorded = await wire.wait(
        "dispatch.whistles.v1",
        case_id,
        lambda e: len([x for x in e if isinstance(x, WhistleAttendanceRecorded)]) >= 2,
        what="attendance of both departments",
    )
    attendance = {e.department: e for e in recorded if isinstance(e, WhistleAttendanceRecorded)}
    assert attendance[HOUSING].on_time is True
    assert (attendance[NR].on_time, attendance[NR].reported_at) == (False, None)
    await oversight_case(county, case_id, lambda c: len(c["timeline"]) >= 1)
    after: dict[str, Any] = {}
    for _ in range(50):
        after = await kpis(county, "department")
        if rate(after, NR, "whistle_attendance_rate")[1] > rate(before, NR, "whistle_attendance_rate")[1]:  # fmt: skip
            break
        await asyncio.sleep(0.2)
    for department, delta in ((HOUSING, (1, 1)), (NR, (0, 1))):
        was = rate(before, department, "whistle_attendance_rate")
        now = rate(after, department, "whistle_attendance_rate")
        assert (now[0] - was[0], now[1] - was[1]) == delta, (department, was, now)


async def test_7_three_reports_nearby_make_one_case_three_reporters_one_work_order(
    county: County, wire: Wire
) -> None:
    answers = []
    for i, (dx, dy) in enumerate(((0, 0), (0.0006, 0.0003), (-0.0004, 0.0005))):  # < 80 m apart
        body = report("portal", "streetlight", (RUBBISH[0] + dx, RUBBISH[1] + dy))
        body["reporter"] = {"name": f"居民{i}", "phone": f"1380000200{i}"}
        answers.append(await submit(county, body))
    master = answers[0]
    assert [a["duplicate_of"] for a in answers] == [None, master["case_number"],
                                                   master["case_number"]]  # fmt: skip
    assert (await intake_case(county, master["case_number"]))["reporter_count"] == 3
    [order] = await work_orders(wire, UM, master["case_id"])
    assert order.role == "lead"
    await wire.settle()
    for duplicate in answers[1:]:
        assert wire.events(dept_topic(UM), duplicate["case_id"]) == []
        assert wire.events("case.routed.v1", duplicate["case_id"]) == []
    assert len(wire.events(dept_topic(UM), master["case_id"])) == 1
    case = await oversight_case(county, master["case_id"], lambda c: c["state"] == "dispatched")
    assert states(case) == ["received", "routed", "dispatched"]


async def test_8_platform_retries_one_submission_five_times_concurrently(
    county: County, wire: Wire
) -> None:
    external_id = f"yq-12345-{uuid.uuid4().hex[:10]}"
    # The county's 12345 platform signs its submissions with the secret intake issued it.
    credential = county.cli("yiwang.intake.cli", "issue-signing-secret", "yq-12345")
    command = SubmitCase(
        source=SourceRef(system="yq-12345", external_id=external_id),
        category="road-damage",
        title="路面塌陷",
        description="路口出现坑洞，车辆绕行",
        location=Location(lon=ROAD[0], lat=ROAD[1]),
    )
    await asyncio.gather(  # five retries, each a new record with its own ce_id
        *(
            wire.publish(
                INTAKE_SUBMISSIONS,
                command,
                source="/yq-12345",
                signer="yq-12345",
                credential=credential,
            )
            for _ in range(5)
        )
    )
    listed: list[dict[str, Any]] = []
    async with county.client("intake", person="hub_operator") as client:
        for _ in range(100):
            page = (await client.get("/v1/cases", params={"category": "road-damage"})).json()
            listed = [c for c in page["cases"] if (c["source"] or {}).get("external_id") == external_id]  # fmt: skip
            if listed:
                break
            await asyncio.sleep(0.2)
    assert len(listed) == 1
    case_id = listed[0]["case_id"]
    [order] = await work_orders(wire, UM, case_id)
    assert order.role == "lead"
    await wire.settle(2.5)  # the other four retries are taken meanwhile
    async with county.client("intake", person="hub_operator") as client:
        page = (await client.get("/v1/cases", params={"category": "road-damage"})).json()
    assert [c["case_id"] for c in page["cases"]] == [case_id]
    assert len(wire.events("case.received.v1", case_id)) == 1
    assert len(wire.events(dept_topic(UM), case_id)) == 1
    assert wire.seen["intake.rejections.v1"] == []


async def test_3_neighbour_dispute_climbs_the_ladder_to_an_honoured_agreement(
    county: County, wire: Wire
) -> None:
    place = await locate(county, *YARD)
    body = report("hotline", "neighbour-dispute", YARD, attributes={"parties_count": "2"},
                  hotline={"call_id": f"c-{uuid.uuid4().hex[:6]}", "operator_id": "op-5"})  # fmt: skip
    case_id = (await submit(county, body))["case_id"]
    await lifecycle_reaches(wire, case_id, "in_mediation")
    async with county.client("mediation") as client:
        [found] = (await client.get("/mediations", params={"case_id": case_id})).json()
        mediation = (await client.get(f"/mediations/{found['mediation_id']}")).json()
    micro_grid = place["micro_grid"]
    assert (mediation["level"], mediation["status"]) == ("grid", "pending")
    assert mediation["committee"] == f"grid:{micro_grid['grid_code']}"
    assert [p["name_masked"] for p in mediation["parties"]] == ["王*"]  # the reporter applies
    mediation_id = mediation["mediation_id"]

    soon = datetime.now(UTC) + timedelta(hours=2)
    for level, next_level in (("grid", "community"), ("community", "township")):
        accepted = await mediation_step(county, mediation_id, "accept", {"mediator_id": None})
        assert (accepted["level"], accepted["status"]) == (level, "accepted")
        assert accepted["mediator_id"]
        await mediation_step(county, mediation_id, "sessions",
                             {"scheduled_at": soon.isoformat(), "place": "社区调解室"}, 201)  # fmt: skip
        failed = await mediation_step(county, mediation_id, "outcome",
                                      {"kind": "failed", "reason": "双方分歧较大"})  # fmt: skip
        assert (failed["level"], failed["status"]) == (next_level, "pending")
    await mediation_step(county, mediation_id, "accept", {"mediator_id": None})
    agreed = await mediation_step(county, mediation_id, "outcome", {
        "kind": "agreement", "terms": "东户拆除违建雨棚，西户承担一半修缮费",
        "amounts": [{"description": "修缮费", "amount": "1200.00"}],
        "performance_deadline": (datetime.now(UTC) + timedelta(days=15)).isoformat()})  # fmt: skip
    assert (agreed["status"], agreed["agreement"]["level"]) == ("agreed", "township")
    case = await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    assert states(case) == ["received", "routed", "in_mediation", "resolved"]

    honoured = await mediation_step(county, mediation_id, "follow-up",
                                    {"honoured": True, "note": "回访：雨棚已拆除，费用已付"})  # fmt: skip
    assert honoured["status"] == "honoured"
    progress = await wire.wait(
        "mediation.events.v1", case_id, lambda e: any(x.step == "honoured" for x in e)
    )
    ladder = [(p.level, p.step) for p in progress if p.step in ("failed", "escalated", "agreement", "honoured")]  # fmt: skip
    assert ladder == [("grid", "failed"), ("community", "escalated"), ("community", "failed"),
                      ("township", "escalated"), ("township", "agreement"),
                      ("township", "honoured")]  # fmt: skip
    assert wire.events(dept_topic("justice"), case_id) == []  # mediation's, not a work order
    # The honoured agreement ends the case: mediation, which held it, closes it.
    closed = await oversight_case(county, case_id, lambda c: c["state"] == "closed")
    assert states(closed) == ["received", "routed", "in_mediation", "resolved", "closed"]
    assert any(e["kind"] == "mediation" for e in closed["timeline"])
