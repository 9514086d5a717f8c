"""Journeys that need time to pass, on a fast clock shared by the five services: a
resolved case nobody evaluates closes by itself, and a department hears oversight's
warning and cards on its own topic.

Every service gets the same YIWANG_CLOCK_SPEED (3600: a demo hour each real second) and
an epoch chosen so that demo time reads Monday 30 November 2026, 00:00 in Shanghai when the
module starts: a plain working week, so one working day is at most a day and a half away.
Cases wait one working day for an evaluation here (OVERSIGHT_CLOSE_AFTER_WORKING_DAYS=1).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from journeys.observer import Wire
from journeys.steps import (
    dept_topic,
    lifecycle_note,
    oversight_case,
    reply_over_http,
    report,
    states,
    submit,
    work_orders,
)
from journeys.system import County, county_fixtures
from yiwang.common.events import WorkOrderIssued, WorkOrderReminder

pytestmark = pytest.mark.integration

SPEED = 3600
MONDAY = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Mon 30 Nov 2026 00:00 in Shanghai
UM, EM = "urban-management", "emergency-management"
ROAD = (113.5727, 37.8515)  # township 2
STOREROOM = (113.5573, 37.8515)  # township 1


def epoch_for(target: datetime, speed: float, *, now: datetime) -> datetime:
    """The epoch at which a clock of `speed` reads `target` at real time `now`."""
    return now + (target - now) / (1 - speed)


def fast_clock() -> dict[str, str]:
    epoch = epoch_for(MONDAY, SPEED, now=datetime.now(UTC))
    return {
        "YIWANG_CLOCK_SPEED": str(SPEED),
        "YIWANG_CLOCK_EPOCH": epoch.isoformat(),
        "OVERSIGHT_CLOSE_AFTER_WORKING_DAYS": "1",
        # A demo hour passes every second: hand-offs take a few demo minutes here.
        "OVERSIGHT_STRANDED_AFTER_MINUTES": "6000",
    }


county, wire = county_fixtures("ending-clock", extra_env=fast_clock, departments=(UM, EM))


async def test_a_resolved_case_nobody_evaluates_closes_by_itself(
    county: County, wire: Wire
) -> None:
    case_id = (await submit(county, report("portal", "road-damage", ROAD)))["case_id"]
    [order] = await work_orders(wire, UM, case_id)
    await reply_over_http(county, UM, order, "acknowledge")
    await reply_over_http(county, UM, order, "resolve", result="坑洞已填补")

    note = await lifecycle_note(wire, case_id, "closed", within=120)
    assert "without evaluation" in note
    case = await oversight_case(county, case_id, lambda c: c["state"] == "closed")
    assert states(case)[-2:] == ["resolved", "closed"]
    assert case["score"] is None  # never counted as satisfied
    # A hotline operator's follow-up call comes too late: the case has ended.
    async with county.client("oversight", person="hotline_operator") as client:
        late = await client.post(f"/cases/{case_id}/evaluations", json={"score": 5})
    assert late.status_code == 409, late.text
    assert late.json()["errors"][0]["field"] == "case_id"


async def test_a_department_hears_warnings_and_cards_on_its_own_topic(
    county: County, wire: Wire
) -> None:
    body = report("portal", "fire-hazard", STOREROOM, attributes={"hazard_level": "high"})
    case_id = (await submit(county, body))["case_id"]
    [first] = await work_orders(wire, EM, case_id)  # nobody signs for it

    def reminders(events: list[object]) -> list[WorkOrderReminder]:
        return [e for e in events if isinstance(e, WorkOrderReminder)]

    found = await wire.wait(
        dept_topic(EM),
        case_id,
        lambda events: {"warning", "yellow_card"} <= {r.kind for r in reminders(events)},
        within=60,
        what="a warning and a yellow card for the department",
    )
    orders = {o.work_order_id: o for o in found if isinstance(o, WorkOrderIssued)}
    heard = reminders(found)
    warning = next(r for r in heard if r.kind == "warning")
    assert warning.work_order_id == first.work_order_id
    assert warning.department == EM
    assert warning.deadline == first.deadline
    yellow = next(r for r in heard if r.kind == "yellow_card")
    # The yellow card escalated the case: the department hears it for the order it now holds.
    assert yellow.work_order_id in orders
    assert yellow.deadline == orders[yellow.work_order_id].deadline
    assert orders[yellow.work_order_id].command_level == "county"
