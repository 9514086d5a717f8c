"""department-dispatch as a separate process on real Kafka and PostgreSQL: work orders,
signed and keyed replies, joint handling, whistles, returns and escalations; who may call
what, with keys and with tokens from the real identity provider (the local Keycloak)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from service_fixtures import helper_process, issue_dispatch_key, service_under_test
from support import ServiceProcess, bearer, case_payloads, new_topic_prefix, publish_events
from waiting import eventually
from yiwang.common.case import CaseFacts, Channel, Location, ReporterRef
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import (
    AlertKind,
    CaseReopened,
    CaseRouted,
    CommandLevel,
    DepartmentReplied,
    HandlingTier,
    MicroGridRef,
    OversightAlertRaised,
    WorkOrderReminder,
)
from yiwang.common.producer import EventProducer
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_REOPENED,
    CASE_RETURNED,
    CASE_ROUTED,
    DEPT_REPLIES,
    DISPATCH_WHISTLES,
    OVERSIGHT_ALERTS,
    department_topic,
)
from yiwang.department_dispatch.adapters.signing import sign_reply_record
from yiwang.department_dispatch.domain.model import case_deadlines

pytestmark = pytest.mark.integration

EXAMPLE_CONSUMER = (
    Path(__file__).resolve().parents[2]
    / "services/department-dispatch/examples/department_consumer.py"
)
PREFIX = new_topic_prefix()
SIGNING_KEY = f"test-key-{uuid.uuid4().hex}"
TOWNSHIP = "140302001"
CIVIL, HOUSING, URBAN, HUB = (
    Department.CIVIL_AFFAIRS,
    Department.HOUSING,
    Department.URBAN_MANAGEMENT,
    Department.COMPREHENSIVE_GOVERNANCE,
)
# When intake received every test case: the SLA clock's start.
RECEIVED_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


dispatch_service = service_under_test(
    "yiwang.department_dispatch.app",
    prefix=PREFIX,
    env={
        "YIWANG_DISPATCH_SIGNING_KEY": SIGNING_KEY,
        "YIWANG_DISPATCH_WHISTLE_SWEEP_SECONDS": "0.3",
    },
)


def dispatch_cli(service: ServiceProcess, *args: str) -> str:
    done = service.cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def signing_secret(service: ServiceProcess, department: str) -> str:
    """`<key id>:<secret>`: the line `cli signing-secret <department>` prints."""
    return dispatch_cli(service, "signing-secret", department)


def key_id(credential: str) -> str:
    return credential.split(":", 1)[0]


@pytest.fixture(scope="module")
def dispatch(dispatch_service: ServiceProcess) -> dict[str, Any]:
    principals = (CIVIL, HOUSING, URBAN, HUB, f"township:{TOWNSHIP}")
    keys = {p: issue_dispatch_key(dispatch_service, p) for p in principals}
    secrets = {d: signing_secret(dispatch_service, d) for d in (CIVIL, HOUSING, URBAN)}
    return {
        "url": dispatch_service.url,
        "database": dispatch_service.database_url,
        "keys": keys,
        "secrets": secrets,
        "service": dispatch_service,
    }


def routed(
    case_id: str,
    *,
    lead: Department = CIVIL,
    assisting: tuple[Department, ...] = (HOUSING,),
    attempt: int = 1,
    triage: bool = False,
    excluded: tuple[Department, ...] = (),
) -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        case=CaseFacts(
            case_id=case_id,
            case_number=f"LZ-{case_id}",
            category="sanitation",
            title="独居老人家中漏水",
            description="独居老人家中漏水，需要上门查看",
            channel=Channel.HOTLINE,
            location=Location(lon=112.56, lat=37.87, address="矿区某小区3号楼"),
            reporters=(
                ReporterRef(reporter_id="rep-1", name_masked="张*", phone_masked="138****0001"),
            ),
            received_at=RECEIVED_AT,
        ),
        micro_grid=MicroGridRef(
            code="MG-1",
            name="微网格一",
            grid_code="G-1",
            community_code="C-1",
            township_code=TOWNSHIP,
            county_code="140302",
        ),
        department_units={CIVIL: "civil-unit-7", HOUSING: "housing-unit-3", URBAN: "urban-unit-2"},
        lead_department=lead,
        assisting_departments=assisting,
        tier=HandlingTier.TOWNSHIP,
        sla_class="normal",
        rule_id="r1",
        reason="test",
        attempt=attempt,
        triage=triage,
        excluded_departments=excluded,
    )


async def publish(kafka: str, payload: Any, topic: str, *, times: int = 1) -> None:
    envelope = Envelope(payload=payload, source="/yiwang/test")
    await publish_events(kafka, *[(topic, envelope)] * times, prefix=PREFIX)


async def publish_signed_reply(
    kafka: str,
    reply: DepartmentReplied,
    *,
    signer: str,
    secret: str,
    at: datetime | None = None,
    ce_id: str | None = None,
    unsigned: bool = False,
) -> str:
    """A department's reply on dept.replies.v1, signed with `secret` (`<key id>:<secret>`)
    as `signer`; the record's ce_id."""
    envelope = Envelope(payload=reply, source="/departments/test", id=ce_id or str(uuid.uuid4()))
    record = encode(envelope, topic=PREFIX + DEPT_REPLIES)
    if not unsigned:
        record = sign_reply_record(record, department=signer, credential=secret, at=at)
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        await producer._producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()
    return envelope.id


async def events_for(
    kafka: str, topic: str, case_id: str, *, expect: int, within: float = 20
) -> list[Any]:
    return await case_payloads(kafka, PREFIX + topic, case_id, expect=expect, within=within)


async def wait_for(database: str, sql: str, *args: Any, expect: Any, within: float = 20) -> Any:
    conn = await asyncpg.connect(database)
    try:
        return await eventually(
            lambda: conn.fetchval(sql, *args),
            until=lambda value: value == expect,
            within=within,
            every=0.2,
        )
    finally:
        await conn.close()


async def work_orders(database: str, case_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetch(
            "SELECT * FROM department_dispatch.work_order WHERE case_id = $1 ORDER BY issued_at",
            case_id,
        )
    finally:
        await conn.close()


CASE_STATE = "SELECT state FROM department_dispatch.dispatch_case WHERE case_id = $1"


async def dispatched_case(kafka: str, dispatch: dict[str, Any], **kwargs: Any) -> str:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    await publish(kafka, routed(case_id, **kwargs), CASE_ROUTED)
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="dispatched") == (
        "dispatched"
    )
    return case_id


def reply(case_id: str, order: Any, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "work_order_id": order["work_order_id"],
        "reply_id": f"r-{uuid.uuid4().hex[:10]}",
        "kind": kind,
        **fields,
    }


async def post(
    dispatch: dict[str, Any], path: str, body: dict[str, Any], as_: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=dispatch["url"], timeout=10) as client:
        return await client.post(
            path, json=body, headers={"Authorization": f"Bearer {dispatch['keys'][as_]}"}
        )


async def post_reply(dispatch: dict[str, Any], body: dict[str, Any], as_: str) -> httpx.Response:
    return await post(dispatch, "/replies", body, as_)


async def test_exactly_one_work_order_per_department_under_redelivery(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    decision = routed(case_id)
    await publish(kafka, decision, CASE_ROUTED, times=2)  # the same event delivered twice
    await publish(kafka, decision, CASE_ROUTED)  # and published again under a new id
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="dispatched")
    lead = await events_for(kafka, department_topic(CIVIL), case_id, expect=1)
    assisting = await events_for(kafka, department_topic(HOUSING), case_id, expect=1)
    assert [(o.role, o.department_unit) for o in lead] == [("lead", "civil-unit-7")]
    assert [(o.role, o.department_unit) for o in assisting] == [("assisting", "housing-unit-3")]
    # Civil affairs calls the reporter back (masked values only); housing gets no personal data.
    assert lead[0].reporter is not None
    assert lead[0].reporter.phone_masked == "138****0001"
    assert assisting[0].reporter is None
    assert len(await work_orders(dispatch["database"], case_id)) == 2
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=1)
    assert [(e.from_state, e.to_state) for e in timeline] == [("routed", "dispatched")]


async def test_a_forged_reply_is_rejected_and_audited(dispatch: dict[str, Any], kafka: str) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    orders = await work_orders(dispatch["database"], case_id)
    lead = next(o for o in orders if o["role"] == "lead")
    secrets = dispatch["secrets"]
    # Housing (which holds only the assisting order) signs a reply to civil affairs' order.
    forged = DepartmentReplied.model_validate(reply(case_id, lead, "resolve", result="done"))
    await publish_signed_reply(kafka, forged, signer=HOUSING, secret=secrets[HOUSING])
    # Someone claims to be civil affairs, with civil affairs' key id but not its secret.
    spoofed = DepartmentReplied.model_validate(reply(case_id, lead, "acknowledge"))
    stolen_id = f"{key_id(secrets[CIVIL])}:{secrets[URBAN].split(':', 1)[1]}"
    await publish_signed_reply(kafka, spoofed, signer=CIVIL, secret=stolen_id)
    # Over HTTP with urban management's key.
    response = await post_reply(dispatch, reply(case_id, lead, "acknowledge"), URBAN)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "not_assignment_holder"
    assert [e["field"] for e in problem["errors"]] == ["work_order_id"]

    audit_sql = (
        "SELECT array_agg(reason || ':' || channel ORDER BY reason, channel)"
        " FROM department_dispatch.reply_rejection WHERE case_id = $1 AND security"
    )
    expected = [
        "bad_signature:kafka",
        "not_assignment_holder:http",
        "not_assignment_holder:kafka",
    ]
    assert await wait_for(dispatch["database"], audit_sql, case_id, expect=expected) == expected
    orders = await work_orders(dispatch["database"], case_id)
    assert {o["status"] for o in orders} == {"issued"}  # nothing applied
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="dispatched")
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{dispatch['url']}/metrics")).text
    assert (
        'yiwang_dispatch_security_events_total{channel="kafka",reason="not_assignment_holder"}'
        in metrics
    )

    # A correctly signed reply from the holder is applied.
    genuine = DepartmentReplied.model_validate(reply(case_id, lead, "acknowledge"))
    await publish_signed_reply(kafka, genuine, signer=CIVIL, secret=secrets[CIVIL])
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="acknowledged")
    actor_sql = "SELECT actor FROM department_dispatch.reply WHERE reply_id = $1"
    assert await wait_for(
        dispatch["database"], actor_sql, genuine.reply_id, expect="department-system:civil-affairs"
    )


async def test_joint_handling_resolves_when_the_lead_resolves(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    orders = {o["role"]: o for o in await work_orders(dispatch["database"], case_id)}
    lead, helper = orders["lead"], orders["assisting"]

    early = await post_reply(dispatch, reply(case_id, lead, "progress", note="x"), CIVIL)
    assert (early.status_code, early.json()["code"]) == (409, "out_of_order")
    unknown = await post_reply(
        dispatch, {**reply(case_id, lead, "acknowledge"), "case_id": "nope"}, CIVIL
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_case")

    ack = reply(case_id, helper, "acknowledge")
    assert (await post_reply(dispatch, ack, HOUSING)).status_code == 200
    again = await post_reply(dispatch, ack, HOUSING)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_reply")
    done = await post_reply(
        dispatch, reply(case_id, helper, "resolve", result="管道已修复"), HOUSING
    )
    assert done.json()["case_state"] == "dispatched"  # an assistant's part does not resolve it

    for kind, extra in (("acknowledge", {}), ("progress", {"note": "上门"})):
        assert (
            await post_reply(dispatch, reply(case_id, lead, kind, **extra), CIVIL)
        ).status_code == 200
    no_result = await post_reply(dispatch, reply(case_id, lead, "resolve"), CIVIL)
    assert (no_result.status_code, no_result.json()["code"]) == (422, "invalid_reply")
    assert no_result.json()["errors"][0]["field"] == "result"
    resolved = await post_reply(
        dispatch,
        reply(case_id, lead, "resolve", result="已安排救助", evidence_urls=["https://e/1.jpg"]),
        CIVIL,
    )
    assert resolved.json()["case_state"] == "resolved"
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=4)
    assert [e.to_state for e in timeline] == [
        "dispatched",
        "acknowledged",
        "in_progress",
        "resolved",
    ]
    assert {o["status"] for o in await work_orders(dispatch["database"], case_id)} == {"resolved"}


async def test_a_missed_whistle_deadline_is_recorded(dispatch: dict[str, Any], kafka: str) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    response = await post(
        dispatch,
        "/whistles",
        {
            "case_id": case_id,
            "township_code": TOWNSHIP,
            "departments": [URBAN, HOUSING],
            "report_within_minutes": 0.05,
            "reason": "群众反映强烈，需联合执法",
        },
        f"township:{TOWNSHIP}",
    )
    assert response.status_code == 201, response.text
    whistle_id = response.json()["whistle_id"]
    summons = await events_for(kafka, department_topic(URBAN), case_id, expect=1)
    assert summons[0].whistle_id == whistle_id
    assert summons[0].reporter is None
    whistled = next(
        o
        for o in await work_orders(dispatch["database"], case_id)
        if o["department"] == URBAN and o["whistle_id"] == whistle_id
    )
    assert (
        await post_reply(dispatch, reply(case_id, whistled, "acknowledge"), URBAN)
    ).status_code == 200
    # Housing never reports: the sweep records it as missed, once.
    attendance = await events_for(kafka, DISPATCH_WHISTLES, case_id, expect=3)
    recorded = {e.department: e for e in attendance if hasattr(e, "on_time")}
    assert recorded[URBAN].on_time is True
    assert recorded[HOUSING].on_time is False
    assert recorded[HOUSING].reported_at is None
    assert len(attendance) == 3  # WhistleBlown + one attendance per department
    outcome_sql = (
        "SELECT outcome FROM department_dispatch.whistle_attendance"
        " WHERE whistle_id = $1 AND department = $2"
    )
    assert await wait_for(dispatch["database"], outcome_sql, whistle_id, HOUSING, expect="missed")


async def test_return_publishes_case_returned_and_a_reroute_dispatches_anew(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    lead = next(o for o in await work_orders(dispatch["database"], case_id) if o["role"] == "lead")
    bad_code = await post_reply(
        dispatch, reply(case_id, lead, "return", reason_code="bored"), CIVIL
    )
    assert (bad_code.status_code, bad_code.json()["code"]) == (422, "invalid_reply")
    returned = await post_reply(
        dispatch,
        reply(case_id, lead, "return", reason_code="not_our_remit", note="属住建职责"),
        CIVIL,
    )
    assert returned.json()["case_state"] == "returned"
    [event] = await events_for(kafka, CASE_RETURNED, case_id, expect=1)
    assert (event.department, event.reason_code, event.return_count) == (CIVIL, "not_our_remit", 1)

    # Routing re-routes (its job): attempt 2, housing leads.
    await publish(kafka, routed(case_id, lead=HOUSING, assisting=(), attempt=2), CASE_ROUTED)
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="dispatched")
    orders = await work_orders(dispatch["database"], case_id)
    assert [(o["department"], o["role"], o["round"], o["status"]) for o in orders] == [
        ("civil-affairs", "lead", "a1", "returned"),
        ("housing", "assisting", "a1", "cancelled"),
        ("housing", "lead", "a2", "issued"),
    ]
    housing = await events_for(kafka, department_topic(HOUSING), case_id, expect=3)
    assert [type(e).__name__ for e in housing] == [
        "WorkOrderIssued",
        "WorkOrderCancelled",
        "WorkOrderIssued",
    ]


async def test_an_escalation_re_dispatches_upward(dispatch: dict[str, Any], kafka: str) -> None:
    case_id = await dispatched_case(kafka, dispatch, assisting=())
    for kind, level in (
        (AlertKind.YELLOW_CARD, CommandLevel.COUNTY),
        (AlertKind.RED_CARD, CommandLevel.CITY),
    ):
        alert = OversightAlertRaised(
            case_id=case_id,
            alert_id=f"al-{uuid.uuid4().hex[:8]}",
            kind=kind,
            command_level=CommandLevel.COUNTY,
            department=CIVIL,
            deadline=datetime.now(UTC),
            reason="overdue",
        )
        await publish(kafka, alert, OVERSIGHT_ALERTS, times=2)
        level_sql = "SELECT command_level FROM department_dispatch.dispatch_case WHERE case_id = $1"
        assert await wait_for(dispatch["database"], level_sql, case_id, expect=level) == level
    orders = await work_orders(dispatch["database"], case_id)
    assert [(o["command_level"], o["status"]) for o in orders] == [
        ("township", "cancelled"),
        ("county", "cancelled"),
        ("city", "issued"),
    ]
    # Issued, cancelled, issued, reminded (yellow card), cancelled, issued, reminded (red).
    issued = await events_for(kafka, department_topic(CIVIL), case_id, expect=7)
    assert [getattr(e, "command_level", None) for e in issued if hasattr(e, "role")] == [
        "township",
        "county",
        "city",
    ]
    reminders = [e for e in issued if isinstance(e, WorkOrderReminder)]
    assert [(r.kind, r.work_order_id) for r in reminders] == [
        ("yellow_card", orders[1]["work_order_id"]),
        ("red_card", orders[2]["work_order_id"]),
    ]
    # Each escalation step gives the new level half the allowed time more (libs/common sla).
    assert [o["deadline"] for o in orders] == [
        case_deadlines(routed(case_id), started_at=RECEIVED_AT).at_level(n) for n in range(3)
    ]
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=2)
    assert [e.to_state for e in timeline] == ["dispatched", "escalated"]
    # The city-level order can be taken up: escalated -> acknowledged.
    city = orders[-1]
    assert (await post_reply(dispatch, reply(case_id, city, "acknowledge"), CIVIL)).json()[
        "case_state"
    ] == ("acknowledged")


async def test_the_example_department_consumer_signs_for_its_orders(
    dispatch: dict[str, Any], kafka: str, infra: dict[str, str]
) -> None:
    case_id = await dispatched_case(kafka, dispatch, lead=URBAN, assisting=())
    consumer_env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra["KAFKA_BOOTSTRAP_SERVERS"],
        "YIWANG_TOPIC_PREFIX": PREFIX,
        "DEPARTMENT": URBAN.value,
        "DEPARTMENT_SIGNING_SECRET": dispatch["secrets"][URBAN],
    }
    async with helper_process(sys.executable, str(EXAMPLE_CONSUMER), env=consumer_env):
        state = await wait_for(
            dispatch["database"], CASE_STATE, case_id, expect="acknowledged", within=40
        )
        assert state == "acknowledged"


async def test_the_simulator_works_a_case_to_resolution(
    dispatch: dict[str, Any], kafka: str, infra: dict[str, str]
) -> None:
    case_id = await dispatched_case(kafka, dispatch, lead=Department.PETITION, assisting=())
    async with helper_process(
        sys.executable,
        "-m",
        "yiwang.department_dispatch.simulator",
        "--speed=6000",
        "--return-rate=0",
        "--assist-rate=0",
        "--seed=7",
        env={
            **infra,
            "DATABASE_URL": dispatch["database"],  # it reads the departments' secrets there
            "YIWANG_TOPIC_PREFIX": PREFIX,
            "YIWANG_DISPATCH_SIGNING_KEY": SIGNING_KEY,
        },
    ):
        state = await wait_for(
            dispatch["database"], CASE_STATE, case_id, expect="resolved", within=40
        )
        assert state == "resolved"
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=4)
    assert [e.actor for e in timeline[1:]] == ["petition"] * 3


async def get_work_orders(
    dispatch: dict[str, Any], as_: str | None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {dispatch['keys'][as_]}"} if as_ else {}
    async with httpx.AsyncClient(base_url=dispatch["url"], timeout=10) as client:
        return await client.get("/work-orders", params=params, headers=headers)


async def test_orders_carry_the_sla_deadlines_and_departments_list_their_own(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    expected = case_deadlines(routed(case_id), started_at=RECEIVED_AT)
    [lead] = await events_for(kafka, department_topic(CIVIL), case_id, expect=1)
    assert (lead.deadline, lead.response_due, lead.sla_policy, lead.rehandling) == (
        expected.resolution_due,
        expected.response_due,
        "hotline-normal",
        0,
    )

    listing = await get_work_orders(dispatch, CIVIL, case_id=case_id, open="true")
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert (body["total"], body["limit"], body["offset"]) == (1, 50, 0)
    [order] = body["work_orders"]
    assert order["work_order_id"] == lead.work_order_id
    assert (order["case_number"], order["role"], order["status"], order["sla_policy"]) == (
        f"LZ-{case_id}",
        "lead",
        "issued",
        "hotline-normal",
    )
    assert datetime.fromisoformat(order["response_due"]) == expected.response_due
    assert (await get_work_orders(dispatch, HOUSING, case_id=case_id)).json()["work_orders"][0][
        "role"
    ] == "assisting"
    resolved = await get_work_orders(dispatch, CIVIL, case_id=case_id, status="resolved")
    assert resolved.json()["total"] == 0

    township = await get_work_orders(dispatch, f"township:{TOWNSHIP}")
    assert (township.status_code, township.json()["errors"][0]["field"]) == (403, "authorization")
    assert (await get_work_orders(dispatch, None)).status_code == 401
    too_many = await get_work_orders(dispatch, CIVIL, limit=201)
    assert (too_many.status_code, too_many.json()["errors"][0]["field"]) == (422, "limit")
    bad_status = await get_work_orders(dispatch, CIVIL, status="lost")
    assert bad_status.status_code == 422


async def test_the_hub_rules_and_the_named_department_may_not_return_it(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(
        kafka, dispatch, lead=URBAN, assisting=(), triage=True, attempt=3, excluded=(CIVIL, URBAN)
    )
    [hub_order] = await work_orders(dispatch["database"], case_id)
    assert hub_order["department"] == HUB
    must_rule = await post_reply(
        dispatch, reply(case_id, hub_order, "return", reason_code="not_our_remit"), HUB
    )
    assert (must_rule.status_code, must_rule.json()["code"]) == (409, "hub_must_rule")
    assert must_rule.json()["errors"][0]["field"] == "kind"

    ruling = {"department": HOUSING.value, "reason": "经研判，属住建部门职责"}
    not_hub = await post(dispatch, f"/cases/{case_id}/ruling", ruling, CIVIL)
    assert (not_hub.status_code, not_hub.json()["errors"][0]["field"]) == (403, "authorization")
    unknown = await post(dispatch, "/cases/nope/ruling", ruling, HUB)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_case")
    async with httpx.AsyncClient(base_url=dispatch["url"], timeout=10) as client:
        anonymous = await client.post(f"/cases/{case_id}/ruling", json=ruling)
    assert anonymous.status_code == 401

    made = await post(dispatch, f"/cases/{case_id}/ruling", ruling, HUB)
    assert made.status_code == 201, made.text
    ruled = made.json()
    assert (ruled["department"], ruled["ruled_by"], ruled["returned_by"]) == (
        "housing",
        "comprehensive-governance",
        ["civil-affairs", "urban-management"],
    )
    again = await post(dispatch, f"/cases/{case_id}/ruling", ruling, HUB)
    assert (again.status_code, again.json()["code"]) == (409, "already_ruled")

    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=3)
    assert [type(e).__name__ for e in timeline] == [
        "CaseStateChanged",
        "RulingMade",
        "CaseStateChanged",
    ]
    assert timeline[1].ruling_id == ruled["ruling_id"]
    assert (timeline[2].from_state, timeline[2].to_state, timeline[2].note) == (
        "dispatched",
        "dispatched",
        "hub ruling: housing handles it",
    )
    [issued] = await events_for(kafka, department_topic(HOUSING), case_id, expect=1)
    assert (issued.work_order_id, issued.ruling_id) == (ruled["work_order_id"], ruled["ruling_id"])
    orders = {o["work_order_id"]: o for o in await work_orders(dispatch["database"], case_id)}
    assert orders[hub_order["work_order_id"]]["status"] == "cancelled"
    housing = orders[ruled["work_order_id"]]
    binding = await post_reply(
        dispatch, reply(case_id, housing, "return", reason_code="not_our_remit"), HOUSING
    )
    assert (binding.status_code, binding.json()["code"]) == (409, "ruling_is_binding")
    ack = await post_reply(dispatch, reply(case_id, housing, "acknowledge"), HOUSING)
    assert ack.json()["case_state"] == "acknowledged"

    ordinary = await dispatched_case(kafka, dispatch)
    not_at_hub = await post(dispatch, f"/cases/{ordinary}/ruling", ruling, HUB)
    assert (not_at_hub.status_code, not_at_hub.json()["code"]) == (409, "case_not_at_hub")


async def test_an_unsatisfied_case_is_handled_again_and_reminders_reach_the_holder(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch, assisting=())
    [first] = await work_orders(dispatch["database"], case_id)
    for kind, extra in (("acknowledge", {}), ("resolve", {"result": "已处理"})):
        assert (
            await post_reply(dispatch, reply(case_id, first, kind, **extra), CIVIL)
        ).status_code == 200
    reopened_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    reopening = CaseReopened(
        case_id=case_id,
        evaluation_id="ev-1",
        department=CIVIL,
        to_hub=False,
        rehandling=1,
        reopened_at=reopened_at,
        reason="resident unsatisfied",
    )
    await publish(kafka, reopening, CASE_REOPENED, times=2)
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="dispatched")
    orders = await work_orders(dispatch["database"], case_id)
    assert [(o["round"], o["status"], o["rehandling"]) for o in orders] == [
        ("a1", "resolved", 0),
        ("h1", "issued", 1),
    ]
    expected = case_deadlines(routed(case_id), started_at=reopened_at)
    assert (orders[1]["deadline"], orders[1]["response_due"]) == (
        expected.resolution_due,
        expected.response_due,
    )
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=4)
    assert (timeline[-1].from_state, timeline[-1].to_state, timeline[-1].note) == (
        "evaluated",
        "dispatched",
        "re-handling after an unsatisfied evaluation (不满意重办)",
    )

    warning = OversightAlertRaised(
        case_id=case_id,
        alert_id=f"al-{uuid.uuid4().hex[:8]}",
        kind=AlertKind.WARNING,
        command_level=CommandLevel.TOWNSHIP,
        department=CIVIL,
        reason="即将超期",
    )
    await publish(kafka, warning, OVERSIGHT_ALERTS)
    civil = await events_for(kafka, department_topic(CIVIL), case_id, expect=3)
    [reminder] = [e for e in civil if isinstance(e, WorkOrderReminder)]
    assert (reminder.work_order_id, reminder.kind, reminder.deadline, reminder.alert_id) == (
        orders[1]["work_order_id"],
        "warning",
        expected.resolution_due,
        warning.alert_id,
    )
    assert [
        o["work_order_id"]
        for o in (await get_work_orders(dispatch, CIVIL, case_id=case_id)).json()["work_orders"]
    ] == [
        orders[1]["work_order_id"],
        orders[0]["work_order_id"],
    ]


REJECTIONS = (
    "SELECT array_agg(reason || ':' || coalesce(claimed, '-') ORDER BY id)"
    " FROM department_dispatch.reply_rejection WHERE case_id = $1"
)


async def test_a_kafka_reply_must_be_signed_now_and_only_once(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch, assisting=())
    [lead] = await work_orders(dispatch["database"], case_id)
    civil = dispatch["secrets"][CIVIL]
    ack = DepartmentReplied.model_validate(reply(case_id, lead, "acknowledge"))
    now = datetime.now(UTC)
    # In order on one partition (the key is the case id): refused, then the genuine one.
    await publish_signed_reply(kafka, ack, signer=CIVIL, secret=civil, unsigned=True)
    await publish_signed_reply(
        kafka, ack, signer=CIVIL, secret=civil, at=now - timedelta(minutes=6)
    )
    await publish_signed_reply(
        kafka, ack, signer=CIVIL, secret=civil, at=now + timedelta(minutes=3)
    )
    no_such_key = "no-such-key:" + civil.split(":", 1)[1]
    await publish_signed_reply(kafka, ack, signer=CIVIL, secret=no_such_key)
    ce_id = await publish_signed_reply(kafka, ack, signer=CIVIL, secret=civil)
    expected = [
        "unsigned:-",
        "stale:civil-affairs",
        "from_the_future:civil-affairs",
        "unknown_key:civil-affairs",
    ]
    assert await wait_for(dispatch["database"], REJECTIONS, case_id, expect=expected) == expected
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="acknowledged")
    # The same record again (same ce_id, freshly signed): a replay, refused by the inbox.
    progress = DepartmentReplied.model_validate(reply(case_id, lead, "progress", note="上门"))
    await publish_signed_reply(kafka, progress, signer=CIVIL, secret=civil, ce_id=ce_id)
    replies_sql = "SELECT count(*) FROM department_dispatch.reply WHERE case_id = $1"
    await publish_signed_reply(kafka, progress, signer=CIVIL, secret=civil)
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="in_progress")
    assert await wait_for(dispatch["database"], replies_sql, case_id, expect=2) == 2


async def test_one_department_rotates_its_signing_secret_with_an_overlap(
    dispatch: dict[str, Any], kafka: str
) -> None:
    service, justice = dispatch["service"], Department.JUSTICE
    first = signing_secret(service, justice)
    assert signing_secret(service, justice) == first  # the current one, until rotated
    second = dispatch_cli(service, "rotate-signing-secret", justice, "--overlap-hours", "1")
    assert key_id(second) != key_id(first)
    assert signing_secret(service, justice) == second
    assert signing_secret(service, CIVIL) == dispatch["secrets"][CIVIL]  # the others keep theirs

    case_id = await dispatched_case(kafka, dispatch, lead=justice, assisting=())
    [lead] = await work_orders(dispatch["database"], case_id)
    old = DepartmentReplied.model_validate(reply(case_id, lead, "acknowledge"))
    await publish_signed_reply(kafka, old, signer=justice, secret=first)  # within the overlap
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="acknowledged")
    third = dispatch_cli(service, "rotate-signing-secret", justice, "--overlap-hours", "0")
    late = DepartmentReplied.model_validate(reply(case_id, lead, "progress", note="x"))
    for retired in (first, second):
        await publish_signed_reply(kafka, late, signer=justice, secret=retired)
    await publish_signed_reply(kafka, late, signer=justice, secret=third)
    assert await wait_for(dispatch["database"], CASE_STATE, case_id, expect="in_progress")
    expected = ["unknown_key:justice", "unknown_key:justice"]
    assert await wait_for(dispatch["database"], REJECTIONS, case_id, expect=expected) == expected
    refused = dispatch["service"].cli("rotate-signing-secret", justice, "--overlap-hours", "9999")
    assert refused.returncode == 2
    assert "overlap-hours" in refused.stderr


async def call(
    dispatch: dict[str, Any], method: str, path: str, *, who: str | None, **kwargs: Any
) -> httpx.Response:
    """A request as a person signed in at the identity provider, or as nobody."""
    headers = bearer(who) if who else {}
    async with httpx.AsyncClient(base_url=dispatch["url"], timeout=10) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def test_people_act_with_tokens_each_in_their_own_department_or_township(
    dispatch: dict[str, Any], kafka: str
) -> None:
    case_id = await dispatched_case(kafka, dispatch)
    orders = {o["role"]: o for o in await work_orders(dispatch["database"], case_id)}
    ack = reply(case_id, orders["lead"], "acknowledge")
    for who, status in ((None, 401), ("auditor", 403), ("hub_operator", 403)):
        assert (await call(dispatch, "POST", "/replies", who=who, json=ack)).status_code == status
    other = await call(dispatch, "POST", "/replies", who="staff_housing", json=ack)
    assert (other.status_code, other.json()["code"]) == (403, "not_assignment_holder")
    mine = await call(dispatch, "POST", "/replies", who="staff_civil_affairs", json=ack)
    assert mine.status_code == 200, mine.text
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=2)
    assert (timeline[-1].to_state, timeline[-1].actor, timeline[-1].department) == (
        "acknowledged",
        "person:staff_civil_affairs",
        CIVIL,
    )
    audit_sql = (
        "SELECT array_agg(coalesce(actor, '-') || ':' || reason ORDER BY id)"
        " FROM department_dispatch.reply_rejection WHERE case_id = $1"
    )
    expected = ["person:staff_housing:not_assignment_holder"]
    assert await wait_for(dispatch["database"], audit_sql, case_id, expect=expected) == expected
    listing = await call(dispatch, "GET", "/work-orders", who="staff_housing",
                         params={"case_id": case_id})  # fmt: skip
    assert [o["role"] for o in listing.json()["work_orders"]] == ["assisting"]
    assert (await call(dispatch, "GET", "/work-orders", who="auditor")).status_code == 403

    whistle = {"case_id": case_id, "township_code": TOWNSHIP, "departments": [URBAN],
               "reason": "群众反映强烈"}  # fmt: skip
    for who in ("township_140302002", "staff_civil_affairs"):
        refused = await call(dispatch, "POST", "/whistles", who=who, json=whistle)
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (403, "authorization")
    blown = await call(dispatch, "POST", "/whistles", who=f"township_{TOWNSHIP}", json=whistle)
    assert blown.status_code == 201, blown.text
    blown_by = "SELECT blown_by FROM department_dispatch.whistle WHERE whistle_id = $1"
    who = f"person:township_{TOWNSHIP}"
    assert await wait_for(dispatch["database"], blown_by, blown.json()["whistle_id"], expect=who)


async def test_a_hub_operator_rules_in_their_own_name(dispatch: dict[str, Any], kafka: str) -> None:
    case_id = await dispatched_case(
        kafka, dispatch, lead=URBAN, assisting=(), triage=True, attempt=3, excluded=(CIVIL, URBAN)
    )
    ruling = {"department": HOUSING.value, "reason": "经研判，属住建部门职责"}
    path = f"/cases/{case_id}/ruling"
    for who in ("auditor", "staff_comprehensive_governance", f"township_{TOWNSHIP}"):
        refused = await call(dispatch, "POST", path, who=who, json=ruling)
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (403, "authorization")
    made = await call(dispatch, "POST", path, who="hub_operator", json=ruling)
    assert made.status_code == 201, made.text
    assert made.json()["ruled_by"] == "person:hub_operator"
    timeline = await events_for(kafka, CASE_LIFECYCLE, case_id, expect=3)
    assert (timeline[1].ruled_by, timeline[2].actor) == ("person:hub_operator",) * 2
    ruled_by = "SELECT ruled_by FROM department_dispatch.ruling WHERE case_id = $1"
    assert await wait_for(
        dispatch["database"], ruled_by, case_id, expect="person:hub_operator"
    ) == ("person:hub_operator")


BAD_REPLY = {"case_id": "c", "work_order_id": "w", "reply_id": "r", "kind": "acknowledge"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/work-orders", {"params": {"offset": 100_001}}, "offset"),
        ("GET", "/work-orders", {"params": {"offset": "9" * 40}}, "offset"),
        ("GET", "/work-orders", {"params": {"limit": 0}}, "limit"),
        ("GET", "/work-orders", {"params": {"case_id": "c" * 200}}, "case_id"),
        ("POST", "/replies", {"json": {**BAD_REPLY, "case_id": "c" * 200}}, "case_id"),
        ("POST", "/replies", {"json": {**BAD_REPLY, "note": "n" * 3000}}, "note"),
        ("POST", "/cases/c1/ruling", {"json": {"department": "x", "reason": "r"}}, "department"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    dispatch: dict[str, Any], method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    who = "hub_operator" if "ruling" in path else "staff_civil_affairs"
    response = await call(dispatch, method, path, who=who, **kwargs)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


def test_the_service_refuses_the_development_signing_key_outside_development(
    infra: dict[str, str],
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_DISPATCH_")}
    env.update(infra, YIWANG_ENV="production")
    done = subprocess.run(
        [sys.executable, "-m", "yiwang.department_dispatch.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "YIWANG_DISPATCH_SIGNING_KEY is the development default" in line
