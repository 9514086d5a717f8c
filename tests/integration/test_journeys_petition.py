"""Journey 4: a petition letter received the day before the National Day holiday. The
15-day acceptance decision and the 60-day conclusion clock count working days (信访事项
办理期限以工作日计算), so the eight-day holiday and its make-up Saturday move them.

The services cannot be told "now" directly; their injectable clock can be set. Every
service gets the same YIWANG_CLOCK_EPOCH and YIWANG_CLOCK_SPEED (a clock at 0.99 of real
speed whose epoch lies years back), chosen so that demo time reads Wednesday 30 September
2026, 10:00 in Shanghai when the module starts; it then runs nearly at real speed. This
module starts its own five services, database and prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from journeys.observer import Wire
from journeys.steps import oversight_case, states, submit, work_orders
from journeys.system import County, county_fixtures

pytestmark = pytest.mark.integration

SPEED = 0.99
RECEIVED_ON = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wed 30 Sep 10:00 Shanghai; 1-7 Oct off
VILLAGE = (113.5664, 37.8638)  # a micro-grid of township 140399002


def epoch_for(target: datetime, speed: float, *, now: datetime) -> datetime:
    """The epoch at which a clock of `speed` reads `target` at real time `now`:
    target = epoch + (now - epoch) * speed."""
    return now + (target - now) / (1 - speed)


def petition_clock() -> dict[str, str]:
    epoch = epoch_for(RECEIVED_ON, SPEED, now=datetime.now(UTC))
    return {"YIWANG_CLOCK_SPEED": str(SPEED), "YIWANG_CLOCK_EPOCH": epoch.isoformat()}


county, wire = county_fixtures("petition", extra_env=petition_clock)


def end_of_shanghai_day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC) + timedelta(hours=16)  # 24:00 at UTC+8


async def test_4_petition_deadlines_count_working_days_across_national_day(
    county: County, wire: Wire
) -> None:
    body = {
        "channel": "petition",
        "category": "land-compensation-petition",
        "title": "征地补偿款未足额发放",
        "description": "村民反映征地补偿款至今未足额发放，请求核查",
        "location": {"lon": VILLAGE[0], "lat": VILLAGE[1]},
        "reporter": {"name": "赵六", "phone": "13700003333"},
        "petition": {"form": "letter", "petitioner_count": 3},
    }
    case_id = (await submit(county, body))["case_id"]
    [order] = await work_orders(wire, "petition", case_id)
    assert order.role == "lead"

    case = await oversight_case(county, case_id, lambda c: c["state"] == "dispatched")
    assert states(case) == ["received", "routed", "dispatched"]
    received = datetime.fromisoformat(case["timeline"][0]["at"])
    assert received.date() == RECEIVED_ON.date(), f"demo clock read {received}"
    assert case["sla_policy"] == "petition"
    # Working days from Thursday 1 October: 1-7 October are holidays, Saturday 10 October
    # is a make-up working day. The 15th working day is Tuesday 27 October, the 60th
    # Tuesday 29 December; each is due at 24:00 that day in Shanghai. (Counted in calendar
    # days they would be 15 October and 29 November.)
    deadlines = (
        datetime.fromisoformat(case["response_due"]),
        datetime.fromisoformat(case["resolution_due"]),
    )
    expected = (end_of_shanghai_day(2026, 10, 27), end_of_shanghai_day(2026, 12, 29))
    assert deadlines == expected, f"petition deadlines {deadlines}, expected {expected}"
    assert case["overdue"] is False

    # The county hub approves the extension; the timeline names who did.
    async with county.client("oversight", person="hub_operator") as client:
        extended = await client.post(
            f"/cases/{case_id}/extensions", json={"reason": "涉及多部门核查，经批准延期"}
        )
        assert extended.status_code == 201, extended.text
        once = datetime.fromisoformat(extended.json()["resolution_due"])
        assert once > deadlines[1]
        # Extendable once: asking again does not move the deadline further.
        await client.post(f"/cases/{case_id}/extensions", json={"reason": "再次延期"})
    case = await oversight_case(county, case_id)
    assert datetime.fromisoformat(case["resolution_due"]) == once
    assert any(
        e["actor"] == "person:hub_operator" for e in case["timeline"] if e["kind"] == "extended"
    )
