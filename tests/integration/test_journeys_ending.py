"""Every case reaches an end: journeys across the five services, each its own process, on
real Kafka and PostgreSQL, acting only through public interfaces.

- a normal case closes after the resident's evaluation;
- the deadline a department is told is the one oversight measures;
- duplicates close with their master, and Open311 says so;
- a declined mediation goes back to routing and on to the category's lead department;
- the county hub's final ruling (终审) is binding: the hub cannot return, the department
  it names cannot return either;
- "unsatisfied" reopens the case once to the same department, a second time to the hub.

Journeys that need time to pass (closing without an evaluation, reminders) run on a fast
clock in test_journeys_ending_clock.py; the holiday calendar in test_journeys_calendar.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from journeys.observer import Wire
from journeys.steps import (
    dept_topic,
    evaluate,
    intake_case,
    kpis,
    lifecycle_note,
    lifecycle_reaches,
    mediation_step,
    open311_request,
    oversight_case,
    rate,
    refused_reply,
    reply_over_http,
    report,
    rule,
    states,
    submit,
    work_orders,
)
from journeys.system import County, county_fixtures
from yiwang.common.events import CaseReopened, RulingMade, WorkOrderIssued

pytestmark = pytest.mark.integration

UM, MS, HEALTH, CG, HOUSING = (
    "urban-management",
    "market-supervision",
    "health",
    "comprehensive-governance",
    "housing",
)
TOWNSHIP_1 = "140399001"
ROAD = (113.5727, 37.8515)  # township 2
FOOD = (113.5543, 37.8545)  # township 1
LAMP = (113.5635, 37.8605)  # township 2
YARD = (113.5575, 37.8667)  # township 1
SHOP = (113.5514, 37.8637)  # township 1

county, wire = county_fixtures("ending", departments=(UM, MS, HEALTH, CG, HOUSING))


async def handle_and_resolve(county: County, department: str, order: WorkOrderIssued) -> None:
    await reply_over_http(county, department, order, "acknowledge")
    await reply_over_http(county, department, order, "resolve", result="已处置完毕")


async def test_a_normal_case_closes_after_its_evaluation(county: County, wire: Wire) -> None:
    case = await submit(county, report("portal", "road-damage", ROAD))
    case_id = case["case_id"]
    [order] = await work_orders(wire, UM, case_id)
    await handle_and_resolve(county, UM, order)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")

    await evaluate(county, case_id, 4)
    closed = await oversight_case(county, case_id, lambda c: c["state"] == "closed")
    assert states(closed) == ["received", "routed", "dispatched", "acknowledged", "resolved",
                              "evaluated", "closed"]  # fmt: skip
    assert closed["score"] == 4
    assert "evaluation" in await lifecycle_note(wire, case_id, "closed")
    # Intake's view and Open311 follow the timeline: the case is closed for the resident.
    for _ in range(100):
        if (await intake_case(county, case_id))["status"] == "closed":
            break
        await wire.settle(0.2)
    request = await open311_request(county, case["case_number"])
    assert request["status"] == "closed"
    assert request["status_notes"].startswith("已结案 Closed")
    async with county.client("oversight") as client:
        ledger = (await client.get("/ledgers", params={"department": UM})).json()
    assert sum(line["closed"] for line in ledger["lines"]) >= 1


async def test_the_deadline_a_department_is_told_is_the_one_oversight_measures(
    county: County, wire: Wire
) -> None:
    case_id = (await submit(county, report("portal", "food-safety", FOOD)))["case_id"]
    [order] = await work_orders(wire, MS, case_id)
    measured = await oversight_case(
        county, case_id, lambda c: c.get("sla_policy") == order.sla_policy
    )
    assert order.sla_policy == "hotline-urgent"  # food safety is urgent in the matrix
    assert order.deadline == datetime.fromisoformat(measured["resolution_due"])
    assert order.response_due == datetime.fromisoformat(measured["response_due"])
    received = datetime.fromisoformat(measured["received_at"])
    assert order.deadline - received == timedelta(hours=24)
    assert order.response_due is not None
    assert order.response_due - received == timedelta(hours=2)


async def test_duplicates_close_with_their_master(county: County, wire: Wire) -> None:
    first = await submit(county, report("portal", "streetlight", LAMP))
    body = report("portal", "streetlight", (LAMP[0] + 0.0004, LAMP[1] + 0.0002))
    body["reporter"] = {"name": "赵八", "phone": "13800004444"}
    second = await submit(county, body)
    assert second["duplicate_of"] == first["case_number"]
    assert (await open311_request(county, second["case_number"]))["status"] == "open"

    [order] = await work_orders(wire, UM, first["case_id"])
    await handle_and_resolve(county, UM, order)
    await oversight_case(county, first["case_id"], lambda c: c["state"] == "resolved")
    await evaluate(county, first["case_id"], 5)

    note = await lifecycle_note(wire, second["case_id"], "closed")
    assert first["case_number"] in note
    duplicate = await oversight_case(county, second["case_id"], lambda c: c["state"] == "closed")
    assert states(duplicate) == ["received", "duplicate", "closed"]
    request: dict[str, object] = {}
    for _ in range(100):
        request = await open311_request(county, second["case_number"])
        if request["status"] == "closed":
            break
        await wire.settle(0.2)
    assert request["status"] == "closed"
    assert first["case_number"] in str(request["status_notes"])


async def test_a_declined_mediation_goes_to_the_lead_department(county: County, wire: Wire) -> None:
    case_id = (await submit(county, report("portal", "property-dispute", YARD)))["case_id"]
    await lifecycle_reaches(wire, case_id, "in_mediation")
    async with county.client("mediation") as client:
        [found] = (await client.get("/mediations", params={"case_id": case_id})).json()
    declined = await mediation_step(
        county, found["mediation_id"], "decline", {"reason": "物业合同纠纷不宜调解"}
    )
    assert declined["status"] == "declined"

    [order] = await work_orders(wire, HOUSING, case_id)
    assert order.role == "lead"
    routes = await wire.wait("case.routed.v1", case_id, lambda r: len(r) >= 2)
    assert [r.to_mediation for r in routes] == [True, False]
    assert routes[1].rule_id.startswith("after-mediation/")
    case = await oversight_case(county, case_id, lambda c: c["state"] == "dispatched")
    assert states(case) == ["received", "routed", "in_mediation", "returned", "routed",
                            "dispatched"]  # fmt: skip
    async with county.client("mediation") as client:
        again = (await client.get("/mediations", params={"case_id": case_id})).json()
    assert [m["status"] for m in again] == ["declined"]  # never to mediation again
    # The department takes it to the end.
    await handle_and_resolve(county, HOUSING, order)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, case_id, 3)
    await oversight_case(county, case_id, lambda c: c["state"] == "closed")


async def test_the_hubs_ruling_is_binding(county: County, wire: Wire) -> None:
    before = await kpis(county, "department")
    case_id = (await submit(county, report("portal", "food-safety", SHOP)))["case_id"]
    [first] = await work_orders(wire, MS, case_id)
    await reply_over_http(county, MS, first, "return", reason_code="not_our_remit")
    health = [o for o in await work_orders(wire, HEALTH, case_id, 2) if o.role == "lead"]
    await reply_over_http(county, HEALTH, health[0], "return", reason_code="not_our_remit")
    [hub_order] = await work_orders(wire, CG, case_id)

    # The hub rules; it does not return (that used to send the case round again).
    refusal = await refused_reply(county, CG, hub_order, "return", reason_code="not_our_remit")
    assert (refusal["status"], refusal["code"]) == (409, "hub_must_rule")
    unknown = await rule(county, case_id, "no-such-department", "x", principal=CG)
    assert unknown.status_code == 422, unknown.text
    assert "department" in {e["field"] for e in unknown.json()["errors"]}
    not_hub = await rule(county, case_id, MS, "市场监管负责", principal=HEALTH)
    assert not_hub.status_code == 403, not_hub.text

    ruled = await rule(county, case_id, MS, "经营场所食品安全属市场监管职责", principal=CG)
    assert ruled.status_code in (200, 201), ruled.text
    orders = [o for o in await work_orders(wire, MS, case_id, 2) if o.ruling_id]
    assert len(orders) == 1
    binding = orders[0]
    assert binding.role == "lead"
    [ruling] = [
        e
        for e in await wire.wait(
            "case.lifecycle.v1", case_id, lambda es: any(isinstance(e, RulingMade) for e in es)
        )
        if isinstance(e, RulingMade)
    ]
    assert (ruling.department, ruling.ruling_id) == (MS, binding.ruling_id)
    assert set(ruling.returned_by) == {MS, HEALTH}
    again = await rule(county, case_id, HEALTH, "改判", principal=CG)
    assert again.status_code == 409, again.text

    refusal = await refused_reply(county, MS, binding, "return", reason_code="not_our_remit")
    assert (refusal["status"], refusal["code"]) == (409, "ruling_is_binding")
    await handle_and_resolve(county, MS, binding)
    case = await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    assert case["lead_department"] == MS
    assert any(e["kind"] == "ruling" for e in case["timeline"])
    after = await kpis(county, "department")
    was, now = rate(before, MS, "arbitration_rate"), rate(after, MS, "arbitration_rate")
    assert now[0] - was[0] == 1, (was, now)


async def test_unsatisfied_reopens_once_then_goes_to_the_hub(county: County, wire: Wire) -> None:
    before = await kpis(county, "township")
    case_id = (await submit(county, report("portal", "unlicensed-business", SHOP)))["case_id"]
    [order] = await work_orders(wire, MS, case_id)
    await handle_and_resolve(county, MS, order)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")

    await evaluate(county, case_id, 1)  # unsatisfied: back to the same department
    [reopened] = await wire.wait("case.reopened.v1", case_id)
    assert isinstance(reopened, CaseReopened)
    assert (reopened.department, reopened.to_hub, reopened.rehandling) == (MS, False, 1)
    again = [o for o in await work_orders(wire, MS, case_id, 2) if o.rehandling == 1]
    assert len(again) == 1
    measured = await oversight_case(
        county, case_id, lambda c: c["state"] == "dispatched" and c["resolved_at"] is None
    )
    assert again[0].deadline == datetime.fromisoformat(measured["resolution_due"])
    # A new deadline, counted from the reopening (the same day gives the same working day).
    assert again[0].deadline >= order.deadline
    assert again[0].rehandling == 1

    await handle_and_resolve(county, MS, again[0])
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, case_id, 2)  # unsatisfied again: the county hub takes it
    reopenings = await wire.wait("case.reopened.v1", case_id, lambda r: len(r) >= 2)
    assert (reopenings[1].to_hub, reopenings[1].rehandling) == (True, 2)
    [hub] = [o for o in await work_orders(wire, CG, case_id) if o.rehandling == 2]
    await handle_and_resolve(county, CG, hub)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, case_id, 5)

    closed = await oversight_case(county, case_id, lambda c: c["state"] == "closed")
    assert states(closed).count("evaluated") == 3
    assert states(closed)[-1] == "closed"
    after = await kpis(county, "township")
    for kpi in ("rehandling_rate", "rehandled_to_hub_rate"):
        was, now = rate(before, TOWNSHIP_1, kpi), rate(after, TOWNSHIP_1, kpi)
        assert (now[0] - was[0], now[1] - was[1]) == (1, 1), (kpi, was, now)
    assert wire.events(dept_topic(HEALTH), case_id) == []
