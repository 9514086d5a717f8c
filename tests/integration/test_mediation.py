"""mediation as a separate process on real Kafka and PostgreSQL: the ladder climbed to
referral, an agreement and its follow-up, redelivery, refusals, and no personal data on
the wire."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from service_fixtures import helper_process, service_under_test
from support import (
    ServiceProcess,
    bearer,
    case_payloads,
    new_topic_prefix,
    publish_events,
    read_all,
)
from waiting import eventually
from yiwang.common.case import CaseFacts, Channel, Location, ReporterRef
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseLeftMediation, CaseRouted, HandlingTier, MicroGridRef
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RETURNED, CASE_ROUTED, MEDIATION_EVENTS

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
PHONE, ID_NUMBER, NAME = "13987654321", "14030219850707123X", "欧阳娜娜"
# The demo realm's mediators: the county's committee covers every rung of the county.
COUNTY_MEDIATOR = "mediator_140302"


mediation = service_under_test(
    "yiwang.mediation.app", prefix=PREFIX, env={"MEDIATION_TIMER_POLL_SECONDS": "0.2"}
)


def routed(case_id: str, category: str, *, township: str = "140302001") -> CaseRouted:
    community = f"{township}002"
    return CaseRouted(
        case_id=case_id,
        case=CaseFacts(
            case_id=case_id,
            case_number=f"YQ-{case_id}",
            category=category,
            title="楼上漏水纠纷",
            description="楼上漏水，邻里协商不成",
            channel=Channel.HOTLINE,
            location=Location(address="城区某小区5号楼"),
            reporters=(
                ReporterRef(reporter_id="rep-9", name_masked="欧***", phone_masked="139****4321"),
            ),
        ),
        micro_grid=MicroGridRef(
            code=f"{community}00101",
            name="微网格",
            grid_code=f"{community}001",
            community_code=community,
            township_code=township,
            county_code="140302",
        ),
        lead_department=Department.JUSTICE,
        tier=HandlingTier.GRID,
        sla_class="general",
        to_mediation=True,
        rule_id="neighbour-dispute",
        reason="a dispute, so it goes to mediation",
    )


async def publish(kafka: str, envelope: Envelope[Any], *, times: int = 1) -> None:
    await publish_events(kafka, *[(CASE_ROUTED, envelope)] * times, prefix=PREFIX)


async def mediation_of(client: httpx.AsyncClient, case_id: str, within: float = 30) -> Any:
    async def found() -> Any:
        return (await client.get("/mediations", params={"case_id": case_id})).json()

    mediations = await eventually(found, within=within, every=0.2)
    if not mediations:
        pytest.fail(f"no mediation for {case_id}")
    return mediations[0]


async def payloads(kafka: str, topic: str, case_id: str, *, expect: int) -> list[Any]:
    return await case_payloads(kafka, PREFIX + topic, case_id, expect=expect)


def signed_in(service: ServiceProcess, username: str = COUNTY_MEDIATOR) -> httpx.AsyncClient:
    """A client for a person signed in at the identity provider (the local Keycloak)."""
    return httpx.AsyncClient(base_url=service.url, headers=bearer(username))


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def test_redelivered_and_repeated_case_routed_open_one_mediation(
    mediation: ServiceProcess, kafka: str
) -> None:
    envelope: Envelope[Any] = Envelope(payload=routed("c-dup", "neighbour-dispute"), source="/t")
    await publish(kafka, envelope, times=3)
    await publish(kafka, Envelope(payload=routed("c-dup", "neighbour-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        found = await mediation_of(client, "c-dup")
    assert (found["status"], found["level"], found["dispute_type"]) == (
        "pending",
        "grid",
        "neighbour",
    )
    await asyncio.sleep(1.5)  # let the later deliveries reach the consumer too
    conn = await asyncpg.connect(mediation.database_url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM mediation.mediation_case WHERE case_id = 'c-dup'"
        )
        inbox = await conn.fetchval("SELECT count(*) FROM mediation.inbox")
    finally:
        await conn.close()
    assert count == 1
    assert inbox >= 2
    lifecycle = await payloads(kafka, CASE_LIFECYCLE, "c-dup", expect=1)
    assert [(e.from_state, e.to_state) for e in lifecycle] == [("routed", "in_mediation")]


async def test_failure_at_every_rung_climbs_the_ladder_to_court(
    mediation: ServiceProcess, kafka: str
) -> None:
    await publish(kafka, Envelope(payload=routed("c-ladder", "traffic-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        mid = (await mediation_of(client, "c-ladder"))["mediation_id"]
        committees = []
        for _ in range(4):
            case = ok(await client.post(f"/mediations/{mid}/accept", json={}))
            committees.append((case["level"], case["committee"], case["mediator_id"]))
            case = ok(
                await client.post(
                    f"/mediations/{mid}/outcome", json={"kind": "failed", "reason": "各执一词"}
                )
            )
        assert case["status"] == "referred"
        assert case["referral_venue"] == "court"
        refused = await client.post(
            f"/mediations/{mid}/sessions",
            json={"scheduled_at": "2099-01-01T09:00:00+08:00", "place": "调解室"},
        )
        agreement = await client.post(
            f"/mediations/{mid}/outcome",
            json={
                "kind": "agreement",
                "terms": "x",
                "performance_deadline": "2099-01-01T00:00:00Z",
            },
        )
        roster = ok(await client.get("/mediators", params={"limit": 1000}))
        metrics = (await client.get("/metrics")).text
    assert [c[:2] for c in committees] == [
        ("grid", "grid:140302001002001"),
        ("community", "community:140302001002"),
        ("township", "township:140302001"),
        ("district", "district:140302:traffic"),
    ]
    assert committees[3][2].startswith("m-140302-traffic-")
    assert all(m["load"] == 0 for m in roster)
    assert 'yiwang_mediation_referrals_total{dispute_type="traffic",venue="court"} 1.0' in metrics
    for level in ("grid", "community", "township", "district"):
        failed = f'level="{level}",outcome="failed"'
        assert f'yiwang_mediation_outcomes_total{{dispute_type="traffic",{failed}}} 1.0' in metrics
    for response in (refused, agreement):
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "mediation_id"
        assert "referred" in response.json()["errors"][0]["reason"]
    steps = await payloads(kafka, MEDIATION_EVENTS, "c-ladder", expect=18)
    assert [s.step for s in steps if s.step in ("escalated", "referred")] == [
        "escalated",
        "escalated",
        "escalated",
        "referred",
    ]
    lifecycle = await payloads(kafka, CASE_LIFECYCLE, "c-ladder", expect=2)
    assert [(e.from_state, e.to_state) for e in lifecycle] == [
        ("routed", "in_mediation"),
        ("in_mediation", "closed"),
    ]


async def test_agreement_then_follow_up_at_its_deadline(
    mediation: ServiceProcess, kafka: str
) -> None:
    await publish(kafka, Envelope(payload=routed("c-agree", "property-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        mid = (await mediation_of(client, "c-agree"))["mediation_id"]
        party = ok(
            await client.post(
                f"/mediations/{mid}/parties",
                json={"role": "respondent", "name": NAME, "phone": PHONE, "id_number": ID_NUMBER},
            )
        )
        assert party["phone_masked"] == "139****4321"
        ok(await client.patch(f"/mediations/{mid}", json={"amount_in_dispute": "3500.00"}))
        early = await client.post(
            f"/mediations/{mid}/sessions",
            json={"scheduled_at": "2099-01-01T09:00:00+08:00", "place": "社区调解室"},
        )
        ok(await client.post(f"/mediations/{mid}/accept", json={}))
        ok(
            await client.post(
                f"/mediations/{mid}/sessions",
                json={"scheduled_at": "2099-01-01T09:00:00+08:00", "place": "社区调解室"},
            )
        )
        deadline = datetime.now(UTC) + timedelta(seconds=3)
        case = ok(
            await client.post(
                f"/mediations/{mid}/outcome",
                json={
                    "kind": "agreement",
                    "terms": "楼上业主承担维修费用",
                    "amounts": [{"description": "维修费", "amount": "3500.00"}],
                    "performance_deadline": deadline.isoformat(),
                },
            )
        )
        assert case["status"] == "agreed"
        too_early = await client.post(f"/mediations/{mid}/follow-up", json={"honoured": False})
        due_by = time.monotonic() + 15
        while not case["follow_up_due"] and time.monotonic() < due_by:
            await asyncio.sleep(0.3)
            case = ok(await client.get(f"/mediations/{mid}"))
        assert case["follow_up_due"]
        case = ok(await client.post(f"/mediations/{mid}/follow-up", json={"honoured": True}))
    assert early.status_code == 409
    assert "accept" in early.json()["errors"][0]["reason"]
    assert too_early.status_code == 409
    assert too_early.json()["errors"][0]["reason"].count("deadline") == 1
    assert case["status"] == "honoured"
    assert case["amount_in_dispute"] == "3500.00"
    assert [p["role"] for p in case["parties"]] == ["applicant", "respondent"]
    steps = [e.step for e in await payloads(kafka, MEDIATION_EVENTS, "c-agree", expect=9)]
    assert steps[-3:] == ["agreement", "follow_up_due", "honoured"]
    lifecycle = await payloads(kafka, CASE_LIFECYCLE, "c-agree", expect=3)
    assert [(e.from_state, e.to_state) for e in lifecycle] == [
        ("routed", "in_mediation"),
        ("in_mediation", "resolved"),
        ("resolved", "closed"),  # the honoured agreement closes the case
    ]


async def test_a_declined_dispute_goes_back_to_routing(
    mediation: ServiceProcess, kafka: str
) -> None:
    await publish(kafka, Envelope(payload=routed("c-decline", "consumer-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        mid = (await mediation_of(client, "c-decline"))["mediation_id"]
        case = ok(
            await client.post(f"/mediations/{mid}/decline", json={"reason": "不属于调解范围"})
        )
        again = await client.post(f"/mediations/{mid}/decline", json={"reason": "再次"})
    assert case["status"] == "declined"
    assert again.status_code == 409
    lifecycle = await payloads(kafka, CASE_LIFECYCLE, "c-decline", expect=2)
    assert [(e.from_state, e.to_state) for e in lifecycle] == [
        ("routed", "in_mediation"),
        ("in_mediation", "returned"),
    ]
    [back] = await case_payloads(kafka, PREFIX + CASE_RETURNED, "c-decline", expect=1, settle=0.5)
    assert isinstance(back, CaseLeftMediation)
    assert (back.mediation_id, back.outcome) == (mid, "declined")
    assert back.reason == f"mediation declined at {case['committee']}"


async def test_personal_data_stays_sealed_and_off_the_wire(
    mediation: ServiceProcess, kafka: str
) -> None:
    await publish(kafka, Envelope(payload=routed("c-pii", "family-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        mid = (await mediation_of(client, "c-pii"))["mediation_id"]
        party = ok(
            await client.post(
                f"/mediations/{mid}/parties",
                json={"role": "respondent", "name": NAME, "phone": PHONE, "id_number": ID_NUMBER},
            )
        )
        ok(
            await client.patch(
                f"/mediations/{mid}/parties/{party['party_id']}", json={"phone": "13900001111"}
            )
        )
        ok(await client.post(f"/mediations/{mid}/accept", json={}))
        ok(
            await client.post(
                f"/mediations/{mid}/outcome",
                json={"kind": "withdrawn", "reason": f"申请人撤回, 联系 {PHONE}"},
            )
        )
        shown = (await client.get(f"/mediations/{mid}")).text
    conn = await asyncpg.connect(mediation.database_url)
    try:
        stored = await conn.fetchrow(
            "SELECT * FROM mediation.party WHERE party_id = $1", party["party_id"]
        )
    finally:
        await conn.close()
    await payloads(kafka, MEDIATION_EVENTS, "c-pii", expect=6)
    await payloads(kafka, CASE_RETURNED, "c-pii", expect=1)  # withdrawn: back to routing
    records = await read_all(
        kafka,
        [PREFIX + MEDIATION_EVENTS, PREFIX + CASE_LIFECYCLE, PREFIX + CASE_RETURNED],
        quiet_for=1.0,
    )
    assert records
    wire = b"".join(r.value + b"".join(v for _, v in r.headers) for r in records)
    for secret in (PHONE, "13900001111", ID_NUMBER, NAME):
        assert secret.encode() not in wire
        assert secret not in shown.replace(f"联系 {PHONE}", "")
        assert secret.encode() not in (stored["phone_sealed"] or b"")
    assert stored["phone_masked"] == "139****1111"
    assert stored["id_number_masked"] == "140302********123X"


async def test_the_simulator_drives_disputes_to_an_outcome(
    mediation: ServiceProcess, kafka: str
) -> None:
    cases = [f"c-sim-{n}" for n in range(6)]
    categories = ["neighbour-dispute", "labour-dispute", "land-dispute", "consumer-dispute"]
    for n, case_id in enumerate(cases):
        routed_case = routed(case_id, categories[n % 4], township=f"14030200{n % 3 + 1}")
        await publish(kafka, Envelope(payload=routed_case, source="/t"))
    simulator = ["yiwang.mediation.simulator", "--url", mediation.url, "--interval", "0.2"]
    async with (
        helper_process(sys.executable, "-m", *simulator, "--seed", "3", "--speed", "1000000"),
        signed_in(mediation) as client,
    ):
        deadline, statuses = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            for case_id in cases:
                found = (await client.get("/mediations", params={"case_id": case_id})).json()
                statuses[case_id] = found[0]["status"] if found else None
            if all(s not in (None, "pending", "accepted") for s in statuses.values()):
                break
            await asyncio.sleep(0.5)
    settled = {"agreed", "withdrawn", "referred", "honoured", "declined"}
    assert set(statuses.values()) <= settled, statuses


async def test_who_may_see_and_act_with_real_tokens(mediation: ServiceProcess, kafka: str) -> None:
    """Tokens from the identity provider: a mediator acts only within their committee's
    area, the hub anywhere, an auditor reads only; the roster is the administrator's."""
    await publish(kafka, Envelope(payload=routed("c-access", "neighbour-dispute"), source="/t"))
    async with signed_in(mediation) as county:
        mid = (await mediation_of(county, "c-access"))["mediation_id"]  # township 140302001
    path = f"/mediations/{mid}"
    async with httpx.AsyncClient(base_url=mediation.url) as anonymous:
        nobody = await anonymous.get(path)
    assert nobody.status_code == 401
    assert nobody.json()["errors"][0]["field"] == "authorization"
    async with signed_in(mediation, "mediator_140302002") as outsider:
        assert (await outsider.get(path)).status_code == 403
        assert (await outsider.post(f"{path}/accept", json={})).status_code == 403
        assert ok(await outsider.get("/mediations", params={"case_id": "c-access"})) == []
    async with signed_in(mediation, "hotline_operator") as hotline:
        assert (await hotline.get("/mediations")).status_code == 403
    async with signed_in(mediation, "auditor") as auditor:
        assert ok(await auditor.get(path))["mediation_id"] == mid
        assert (await auditor.post(f"{path}/accept", json={})).status_code == 403
    async with signed_in(mediation, "mediator_140302001") as township:
        ok(await township.patch(path, json={"amount_in_dispute": "1200.00"}))
        ok(await township.post(f"{path}/accept", json={}))
    async with signed_in(mediation, "hub_operator") as hub:
        case = ok(await hub.post(f"{path}/outcome", json={"kind": "failed", "reason": "未果"}))
    assert case["level"] == "community"
    assert [(h["step"], h["actor"]) for h in case["history"]] == [
        ("opened", "mediation"),
        ("amount_set", "person:mediator_140302001"),
        ("accepted", "person:mediator_140302001"),
        ("mediator_assigned", "person:mediator_140302001"),
        ("failed", "person:hub_operator"),
        ("escalated", "person:hub_operator"),
    ]
    new = {"mediator_id": "m-it-1", "name": "王调解", "level": "grid", "area_code": "140302003"}
    async with signed_in(mediation, "mediator_140302") as mediator:
        assert (await mediator.post("/mediators", json=new)).status_code == 403
        assert (await mediator.get("/mediators", params={"limit": 1})).status_code == 200
    async with signed_in(mediation, "administrator") as admin:
        added = ok(await admin.post("/mediators", json=new))
        changed = ok(await admin.patch("/mediators/m-it-1", json={"capacity": 3}))
    assert (added["changed_by"], changed["capacity"]) == ("person:administrator", 3)


async def test_bad_input_is_a_4xx_naming_the_field(mediation: ServiceProcess, kafka: str) -> None:
    await publish(kafka, Envelope(payload=routed("c-input", "family-dispute"), source="/t"))
    async with signed_in(mediation) as client:
        mid = (await mediation_of(client, "c-input"))["mediation_id"]
        party = {"role": "respondent", "name": "王\u0007五"}
        session = {"scheduled_at": "0001-01-01T00:00:00+14:00", "place": "调解室"}
        agreement = {"kind": "agreement", "terms": "x", "performance_deadline": "0001-01-01"}
        answers = [
            (await client.post(f"/mediations/{mid}/parties", json=party), 422, "name"),
            (await client.post(f"/mediations/{mid}/sessions", json=session), 422, "scheduled_at"),
            (await client.post(f"/mediations/{mid}/outcome", json=agreement), 422,
             "performance_deadline"),
            (await client.get("/mediations", params={"limit": 10_000}), 422, "limit"),
            (await client.get("/mediations/" + "x" * 65), 422, "mediation_id"),
            (await client.post(f"/mediations/{mid}/decline", json={"reason": "a\u0000b"}), 400,
             "(body)"),  # the input guard in libs/common
        ]  # fmt: skip
    for response, status, field in answers:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text


def test_the_development_key_is_refused_outside_development(
    mediation: ServiceProcess,
) -> None:
    env = {**mediation.env, "YIWANG_ENV": "production", "YIWANG_HTTP_PORT": "1"}
    env.pop("MEDIATION_PII_KEY", None)
    started = subprocess.run(
        [sys.executable, "-m", "yiwang.mediation.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    [line] = started.stderr.strip().splitlines()
    assert line.startswith("yiwang-mediation: MEDIATION_PII_KEY is the development default")
