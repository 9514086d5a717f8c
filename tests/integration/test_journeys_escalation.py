"""Journey 6: a case nobody acknowledges climbs the escalation ladder, warning → yellow
card → red card, and its lead order goes up the command, township → county → city.

Time runs fast through the injectable clock: every service gets the same
YIWANG_CLOCK_SPEED and YIWANG_CLOCK_EPOCH, so they agree on demo time. A fast clock would
disturb the other journeys, so this module starts its own five services, database and prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from journeys.observer import Wire
from journeys.steps import locate, oversight_case, submit, work_orders
from journeys.system import County, county_fixtures
from yiwang.common.events import OversightAlertRaised, WorkOrderCancelled, WorkOrderIssued

pytestmark = pytest.mark.integration

SPEED = 720  # one demo hour is five real seconds; the response ladder takes ten
EM = "emergency-management"
STOREROOM = (113.5573, 37.8515)  # a micro-grid of township 140399001


county, wire = county_fixtures(
    "escalation",
    extra_env=lambda: {
        "YIWANG_CLOCK_SPEED": str(SPEED),
        "YIWANG_CLOCK_EPOCH": datetime.now(UTC).isoformat(),
    },
)


async def test_6_unacknowledged_case_escalates_to_the_city_command(
    county: County, wire: Wire
) -> None:
    assert (await locate(county, *STOREROOM))["micro_grid"]["township_code"] == "140399001"
    body = {
        "channel": "portal",
        "category": "fire-hazard",
        "title": "仓库电线私拉乱接",
        "description": "仓库内电线私拉乱接，堆满纸箱",
        "priority": "emergency",
        "location": {"lon": STOREROOM[0], "lat": STOREROOM[1]},
        "attributes": {"hazard_level": "high"},
    }
    case_id = (await submit(county, body))["case_id"]
    [first] = await work_orders(wire, EM, case_id)
    assert first.command_level == "township"

    case = await oversight_case(county, case_id, lambda c: c.get("response_due") is not None)
    response_due = datetime.fromisoformat(case["response_due"])

    def response_ladder(alerts: list[OversightAlertRaised]) -> list[tuple[str, str]]:
        return [(a.kind, a.command_level) for a in alerts if a.deadline == response_due]

    alerts = await wire.wait(
        "oversight.alerts.v1",
        case_id,
        lambda found: len(response_ladder(found)) >= 4,
        within=45,
        what="the response clock's four alerts",
    )
    assert response_ladder(alerts) == [
        ("warning", "community"),
        ("yellow_card", "township"),
        ("red_card", "county"),
        ("red_card", "city"),
    ]
    orders = await work_orders(wire, EM, case_id, 3)
    await wire.settle()
    on_topic = wire.events(f"dept.{EM}.cases.v1", case_id)
    issued = [o.command_level for o in on_topic if isinstance(o, WorkOrderIssued)]
    assert issued == ["township", "county", "city"]
    cancelled = [o.work_order_id for o in on_topic if isinstance(o, WorkOrderCancelled)]
    assert cancelled == [orders[0].work_order_id, orders[1].work_order_id]

    lifecycle = wire.events("case.lifecycle.v1", case_id)
    assert [e.to_state for e in lifecycle] == ["received", "routed", "dispatched", "escalated"]
    seen = await oversight_case(county, case_id, lambda c: c["state"] == "escalated")
    assert seen["overdue"] is True
    kinds = {(a["kind"], a["command_level"]) for a in seen["alerts"]}
    assert {("yellow_card", "township"), ("red_card", "city")} <= kinds
