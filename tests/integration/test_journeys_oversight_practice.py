"""The practice's oversight side across the five services, each its own process, on real
Kafka, PostgreSQL and the identity provider, acting only through public interfaces:

- 一考双评: a township official's assessment changes the departments' evaluation ranking
  (and a second one, another township's, or one of a department that never served the
  township is refused); the weekly and monthly reports carry the evaluation score;
- 晒账: the public ledger carries no personal data, checked by scanning it with the
  scrubber's patterns after cases with phones and ID numbers in their descriptions, and
  no petition;
- 对账: reconciliation finds a case deliberately deleted from department-dispatch's
  tables, over HTTP and with the operator command.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import asyncpg
import pytest
from journeys.observer import Wire
from journeys.steps import (
    evaluate,
    intake_case,
    local_today,
    oversight_case,
    reply_over_http,
    report,
    submit,
    work_orders,
)
from journeys.system import County, county_fixtures
from support import token_for
from yiwang.common.events import WorkOrderIssued
from yiwang.common.personal_data import scrub

pytestmark = pytest.mark.integration

UM, MS, CG = "urban-management", "market-supervision", "comprehensive-governance"
TOWNSHIP_1, TOWNSHIP_2 = "140399001", "140399002"
OFFICIAL_1, OFFICIAL_2 = f"township_{TOWNSHIP_1}", f"township_{TOWNSHIP_2}"
YARD = (113.5575, 37.8667)  # township 1
FOOD = (113.5543, 37.8545)  # township 1
SHOP = (113.5514, 37.8637)  # township 1
ROAD = (113.5727, 37.8515)  # township 2
LAMP = (113.5635, 37.8605)  # township 2
PHONE, ID_NUMBER = "13912345678", "110101199003074514"

county, wire = county_fixtures("oversight-practice", departments=(UM, MS, CG))


async def resolve(county: County, department: str, order: WorkOrderIssued) -> None:
    await reply_over_http(county, department, order, "acknowledge")
    await reply_over_http(county, department, order, "resolve", result="已处置完毕")


async def settle(county: County, wire: Wire, department: str, case_id: str, score: int) -> None:
    """The department handles the case and the resident evaluates it."""
    [order] = await work_orders(wire, department, case_id)
    await resolve(county, department, order)
    await oversight_case(county, case_id, lambda c: c["state"] == "resolved")
    await evaluate(county, case_id, score)
    await oversight_case(county, case_id, lambda c: c["state"] == "closed")


async def ranking(county: County) -> dict[str, tuple[int, float | None]]:
    today = local_today()
    params = {"from": today, "to": today, "group_by": "department", "by": "evaluation_score"}
    async with county.client("oversight") as client:
        response = await client.get("/rankings", params=params)
    assert response.status_code == 200, response.text
    return {r["group"]: (r["rank"], r["evaluation_score"]) for r in response.json()["rows"]}


async def assess(county: County, official: str, department: str, score: int) -> Any:
    body = {
        "township_code": TOWNSHIP_1,
        "department": department,
        "month": local_today()[:7],
        "score": score,
        "comment": "响应及时" if score > 60 else "多次催办才处理",
    }
    async with county.client("oversight", person=official) as client:
        return await client.post("/assessments", json=body)


async def test_a_township_assessment_changes_the_evaluation_ranking(
    county: County, wire: Wire
) -> None:
    road = (await submit(county, report("portal", "road-damage", YARD)))["case_id"]
    food = (await submit(county, report("portal", "food-safety", FOOD)))["case_id"]
    await asyncio.gather(settle(county, wire, UM, road, 5), settle(county, wire, MS, food, 5))

    # Residents only: both fully satisfied, a tie.
    before = await ranking(county)
    assert before[UM] == before[MS] == (1, 100.0)

    assert (await assess(county, OFFICIAL_1, UM, 95)).status_code == 201
    answered = await assess(county, OFFICIAL_1, MS, 40)
    assert answered.status_code == 201, answered.text
    assert answered.json()["assessed_by"] == f"person:{OFFICIAL_1}"

    after = await ranking(county)
    assert after[UM] == (1, 97.5)  # 0.5 x 95 + 0.5 x 100
    assert after[MS] == (2, 70.0)  # 0.5 x 40 + 0.5 x 100

    second = await assess(county, OFFICIAL_1, UM, 10)
    assert second.status_code == 409, second.text
    assert second.json()["errors"][0]["field"] == "department"
    other_township = await assess(county, OFFICIAL_2, UM, 10)
    assert other_township.status_code == 403, other_township.text
    never_served = await assess(county, OFFICIAL_1, CG, 10)
    assert never_served.status_code == 422, never_served.text
    assert never_served.json()["errors"][0]["field"] == "department"
    assert (await ranking(county))[UM] == (1, 97.5)  # the refused ones changed nothing

    # The weekly and monthly reports carry the evaluation score beside the rates.
    async with county.client("oversight") as client:
        weekly = await client.get("/reports/weekly", params={"week_of": local_today()})
        monthly = await client.get(
            "/reports/monthly", params={"month": local_today()[:7], "format": "csv"}
        )
    assert weekly.status_code == 200, weekly.text
    departments = {row["group"]: row for row in weekly.json()["departments"]}
    assert departments[MS]["evaluation_score"] == 70.0
    assert departments[MS]["township_score"] == 40.0
    assert monthly.status_code == 200, monthly.text
    assert monthly.text.splitlines()[0].endswith("on_time_rate,evaluation_score")
    # So do the operator commands.
    printed = await asyncio.to_thread(
        county.cli, "yiwang.oversight.cli", "weekly-report", "--week-of", local_today()
    )
    weekly_rows = {row["group"]: row for row in json.loads(printed)["departments"]}
    assert weekly_rows[UM]["evaluation_score"] == 97.5
    table = await asyncio.to_thread(
        county.cli, "yiwang.oversight.cli", "monthly-report", "--month", local_today()[:7],
        "--format", "csv",
    )  # fmt: skip
    assert any(line.startswith(MS) and line.endswith(",70.0") for line in table.splitlines())


async def test_the_public_ledger_carries_no_personal_data(county: County, wire: Wire) -> None:
    told = f"联系电话{PHONE}，身份证号{ID_NUMBER}，邮箱 li.si@example.com"
    cases = [
        await submit(
            county, report("portal", "road-damage", ROAD, description=f"路面塌陷，{told}")
        ),
        await submit(
            county, report("portal", "streetlight", LAMP, description=f"路灯不亮，{told}")
        ),
        await submit(
            county, report("portal", "food-safety", SHOP, description=f"过期食品，{told}")
        ),
    ]
    petition = {
        **report("petition", "petition-general", SHOP, description=f"信访事项，{told}"),
        "petition": {"form": "visit", "petitioner_count": 1},
    }
    cases.append(await submit(county, petition))
    for case in cases:
        await oversight_case(county, case["case_id"], lambda c: c["state"] == "dispatched")

    today = local_today()
    texts: list[str] = []
    async with county.client("oversight", person=OFFICIAL_2) as client:  # any report reader
        for group_by in ("township", "department"):
            for format in ("json", "csv"):
                response = await client.get(
                    "/ledgers/public",
                    params={"from": today, "to": today, "group_by": group_by, "format": format},
                )
                assert response.status_code == 200, response.text
                texts.append(response.text)
        by_township = (
            await client.get("/ledgers/public", params={"from": today, "to": today})
        ).json()
    for text in texts:
        assert scrub(text).found == (), text  # no phone, ID number or e-mail
        for case in cases:
            assert case["case_id"] not in text
            assert case["case_number"] not in text
        assert "王五" not in text  # the reporter
    rows = {row["group"]: row for row in by_township["rows"]}
    assert rows[TOWNSHIP_2]["cases"] >= 2
    # The petition is nobody's public business: petition content is left out.
    department_rows = json.loads(texts[2])["rows"]
    assert "petition" not in {row["group"] for row in department_rows}


async def reconcile(county: County) -> dict[str, Any]:
    today = local_today()
    async with county.client("oversight") as client:  # an auditor
        response = await client.get("/reconciliation", params={"from": today, "to": today})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_reconciliation_finds_a_case_deleted_from_dispatch(
    county: County, wire: Wire
) -> None:
    kept = (await submit(county, report("portal", "streetlight", ROAD)))["case_id"]
    lost = (await submit(county, report("portal", "road-damage", LAMP)))["case_id"]
    for case_id in (kept, lost):
        await work_orders(wire, UM, case_id)
        await oversight_case(county, case_id, lambda c: c["state"] == "dispatched")
        for _ in range(100):  # intake follows the lifecycle too
            if (await intake_case(county, case_id))["status"] == "dispatched":
                break
            await asyncio.sleep(0.2)

    # Somebody deletes the case from department-dispatch's tables.
    conn = await asyncpg.connect(county.env["DATABASE_URL"])
    try:
        async with conn.transaction():
            await conn.execute(
                "DELETE FROM department_dispatch.work_order WHERE case_id = $1", lost
            )
            await conn.execute(
                "DELETE FROM department_dispatch.dispatch_case WHERE case_id = $1", lost
            )
    finally:
        await conn.close()

    found = await reconcile(county)
    cases = {c["case_id"]: c for c in found["cases"]}
    assert cases[lost]["disagreements"] == ["missing_in_dispatch"]
    assert (cases[lost]["oversight_state"], cases[lost]["intake_state"]) == (
        "dispatched",
        "dispatched",
    )
    assert cases[lost]["dispatch_state"] is None
    assert kept not in cases
    assert found["counts"]["intake"] >= 2

    # The operator command says the same, and exits 1 because a case disagrees.
    oversight = county.services["oversight"]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "yiwang.oversight.cli", "reconcile", "--from", local_today(),
         "--to", local_today(), "--format", "csv"],
        env={**os.environ, **oversight.env, "YIWANG_BEARER_TOKEN": token_for("auditor")},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"{lost},missing_in_dispatch," in done.stdout
