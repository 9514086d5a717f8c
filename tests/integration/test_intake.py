"""Intake as a separate process against real Kafka and PostgreSQL: every channel,
Open311 in JSON and XML, Kafka ingestion, idempotency, duplicates, personal data and
each kind of bad input."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from service_fixtures import issue_intake_key, service_under_test
from support import ServiceProcess, publish_events, read_all, read_topic
from waiting import eventually
from yiwang.common.case import SourceRef
from yiwang.common.envelope import Envelope, decode
from yiwang.common.events import CaseStateChanged, SubmitCase
from yiwang.common.producer import EventProducer
from yiwang.common.states import CaseState

pytestmark = pytest.mark.integration

PREFIX = f"t{uuid.uuid4().hex[:8]}."
PHONE, ID_NUMBER = "13912345678", "140302198805061234"
HERE = (113.58, 37.86)
SPOTS = itertools.count()


intake = service_under_test("yiwang.intake.app", prefix=PREFIX)


@pytest.fixture(scope="module")
def key(intake: ServiceProcess) -> str:
    return issue_intake_key(intake, platform="test-platform")


@pytest.fixture
async def client(intake: ServiceProcess, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=intake.url, headers={"X-API-Key": key}, timeout=10) as c:
        yield c


def submission(channel: str, **extra: Any) -> dict[str, Any]:
    # A spot of its own each time, further from the others than the duplicate radius
    # (250 m): no accidental duplicates.
    n = next(SPOTS)
    lon, lat = HERE[0] + (n % 25) * 0.004, HERE[1] + (n // 25) * 0.004
    body: dict[str, Any] = {
        "channel": channel,
        "category": "sanitation",
        "title": "垃圾未清运",
        "description": "小区门口垃圾两天未清运",
        "location": {"lon": lon, "lat": lat},
        "reporter": {"name": "李四", "phone": PHONE, "id_number": ID_NUMBER},
    }
    body.update(extra)
    return body


async def received_events(kafka: str, *, expect: int) -> list[Envelope[Any]]:
    records = await read_topic(kafka, f"{PREFIX}case.received.v1", expect=expect, within=20)
    return [decode(r.value, r.headers) for r in records]


async def db(intake: ServiceProcess) -> asyncpg.Connection:
    return await asyncpg.connect(intake.database_url)


# --- every channel ---------------------------------------------------------------------


CHANNELS = {
    "grid_worker": {
        "grid_worker": {
            "worker_id": "gw-017",
            "micro_grid_hint": "mg-0042",
            "photo_urls": ["https://img.example/1.jpg"],
        }
    },
    "hotline": {"hotline": {"call_id": "call-20261121-0001", "operator_id": "op-12"}},
    "petition": {"petition": {"form": "letter"}, "category": "land-compensation-petition"},
    "portal": {},
    "platform": {"source": {"system": "yq-city-platform", "external_id": "ext-001"}},
}


@pytest.mark.parametrize("channel", list(CHANNELS))
async def test_each_channel_creates_a_case_and_announces_it(
    client: httpx.AsyncClient, kafka: str, channel: str
) -> None:
    response = await client.post("/v1/cases", json=submission(channel, **CHANNELS[channel]))
    assert response.status_code == 201, response.text
    created = response.json()
    assert re.fullmatch(r"YQ-\d{8}-\d{5}", created["case_number"])

    fetched = (await client.get(f"/v1/cases/{created['case_number']}")).json()
    assert fetched["channel"] == channel
    assert fetched["status"] == "received"
    assert fetched["timeline"][0]["to"] == "received"

    events = [e for e in await received_events(kafka, expect=1) if e.subject == created["case_id"]]
    assert len(events) == 1
    case = events[0].payload.case
    assert case.case_number == created["case_number"]
    assert case.channel.value == channel
    assert case.reporters[0].phone_masked == "139****5678"
    assert case.reporters[0].name_masked == "李*"
    if channel == "grid_worker":
        assert events[0].payload.grid_worker.worker_id == "gw-017"
        assert case.location.micro_grid_hint == "mg-0042"
    if channel == "petition":
        assert events[0].payload.petition.form.value == "letter"


async def test_gcj02_and_bd09_points_are_normalised_to_wgs84(client: httpx.AsyncClient) -> None:
    from yiwang.common.geo import distance_m, gcj02_to_bd09, wgs84_to_gcj02

    wgs = (113.6001, 37.8801)
    for crs, point in (
        ("GCJ-02", wgs84_to_gcj02(*wgs)),
        ("BD-09", gcj02_to_bd09(*wgs84_to_gcj02(*wgs))),
    ):
        body = submission(
            "portal",
            category="streetlight",
            location={"lon": point[0], "lat": point[1], "crs": crs},
        )
        created = (await client.post("/v1/cases", json=body)).json()
        case = (await client.get(f"/v1/cases/{created['case_number']}")).json()
        assert distance_m(case["location"]["lon"], case["location"]["lat"], *wgs) < 1.0, crs
        await client.post(
            "/v1/cases", json={**body, "category": "noise"}
        )  # keep streetlight free of duplicates


async def test_an_address_or_admin_code_without_coordinates_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    by_address = submission(
        "hotline", **CHANNELS["hotline"], location={"address": "阳泉市城区桃北中街5号"}
    )
    by_code = submission("portal", location={"admin_code": "140302"})
    for body in (by_address, by_code):
        response = await client.post("/v1/cases", json=body)
        assert response.status_code == 201, response.text


async def test_xml_bodies_are_accepted_too(client: httpx.AsyncClient) -> None:
    xml = (
        "<case><channel>portal</channel><category>noise</category><title>噪声</title>"
        "<description>夜间施工</description><location><lon>113.61</lon><lat>37.9</lat></location></case>"
    )
    response = await client.post(
        "/v1/cases", content=xml.encode(), headers={"content-type": "application/xml"}
    )
    assert response.status_code == 201, response.text


# --- idempotency and duplicates --------------------------------------------------------


async def test_retries_with_an_idempotency_key_return_the_same_case(
    client: httpx.AsyncClient,
) -> None:
    body = submission("portal")
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    first = await client.post("/v1/cases", json=body, headers=headers)
    second = await client.post("/v1/cases", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["case_id"] == second.json()["case_id"]

    changed = await client.post("/v1/cases", json={**body, "title": "另一件事"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_concurrent_duplicates_of_one_submission_make_one_case(
    client: httpx.AsyncClient, intake: ServiceProcess
) -> None:
    body = submission(
        "platform", source={"system": "yq-city-platform", "external_id": f"c-{uuid.uuid4()}"}
    )
    responses = await asyncio.gather(*(client.post("/v1/cases", json=body) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["case_id"] for r in responses}) == 1
    conn = await db(intake)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM intake.cases WHERE external_id = $1",
            body["source"]["external_id"],
        )
    finally:
        await conn.close()
    assert count == 1


async def test_kafka_submissions_retried_concurrently_make_one_case(
    intake: ServiceProcess, kafka: str
) -> None:
    external_id = f"k-{uuid.uuid4()}"
    command = SubmitCase(
        source=SourceRef(system="yq-grid-app", external_id=external_id),
        category="road-damage",
        title="路面塌陷",
        description="路口出现坑洞",
        location={"lon": 113.55, "lat": 37.83},  # type: ignore[arg-type]
    )
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        # Five retries of one submission, each a new record (a new ce_id), sent at once.
        await asyncio.gather(
            *(
                producer.publish(
                    Envelope(payload=command, source="/yq-grid-app"),
                    topic=f"{PREFIX}intake.submissions.v1",
                )
                for _ in range(5)
            )
        )
    finally:
        await producer.stop()
    conn = await db(intake)
    try:
        for _ in range(100):
            count = await conn.fetchval(
                "SELECT count(*) FROM intake.cases WHERE external_id = $1", external_id
            )
            handled = await conn.fetchval(
                "SELECT count(*) FROM intake.idempotency_keys WHERE key = $1", external_id
            )
            if count and handled:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # let all five be taken
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM intake.cases WHERE external_id = $1", external_id
            )
            == 1
        )
    finally:
        await conn.close()


async def test_three_reports_nearby_make_one_case_with_three_reporters(
    client: httpx.AsyncClient, kafka: str
) -> None:
    base = (113.64, 37.91)
    numbers = []
    for i, (dx, dy) in enumerate(
        ((0, 0), (0.0008, 0.0005), (-0.0006, 0.0009))
    ):  # all within ~120 m
        body = submission("portal", category="gas-leak", location={"lon": base[0] + dx, "lat": base[1] + dy},
                          attributes={"hazard_level": "high"})  # fmt: skip
        body["reporter"] = {"name": f"居民{i}", "phone": f"1380000000{i}"}
        numbers.append((await client.post("/v1/cases", json=body)).json())
    master = numbers[0]
    assert [n["duplicate_of"] for n in numbers] == [
        None,
        master["case_number"],
        master["case_number"],
    ]
    assert (await client.get(f"/v1/cases/{master['case_number']}")).json()["reporter_count"] == 3
    far = submission("portal", category="gas-leak", location={"lon": base[0] + 0.01, "lat": base[1]},
                     attributes={"hazard_level": "low"})  # fmt: skip
    assert (await client.post("/v1/cases", json=far)).json()["duplicate_of"] is None  # ~880 m away

    received = await received_events(kafka, expect=1)
    ids = {n["case_id"] for n in numbers}
    assert len([e for e in received if e.subject in ids]) == 1  # only the master goes on to routing
    lifecycle = [
        decode(r.value, r.headers)
        for r in await read_topic(kafka, f"{PREFIX}case.lifecycle.v1", expect=1)
    ]
    linked = [
        e
        for e in lifecycle
        if e.type == "yiwang.case.duplicate-linked.v1" and e.subject == master["case_id"]
    ]
    assert [e.payload.reporter_count for e in linked] == [2, 3]


async def test_duplicates_close_with_their_master(
    intake: ServiceProcess, client: httpx.AsyncClient, kafka: str
) -> None:
    base = (113.80, 38.05)  # away from every other test's points
    made = []
    for dx in (0, 0.0004, -0.0005):
        body = submission("portal", location={"lon": base[0] + dx, "lat": base[1]})
        made.append((await client.post("/v1/cases", json=body)).json())
    master, duplicates = made[0], made[1:]
    assert all(d["duplicate_of"] == master["case_number"] for d in duplicates)
    received = [e for e in await received_events(kafka, expect=1) if e.subject == master["case_id"]]
    assert received[0].payload.case.received_at == received[0].payload.received_at

    closed = CaseStateChanged(case_id=master["case_id"], from_state=CaseState.EVALUATED,
                              to_state=CaseState.CLOSED, actor="oversight",
                              note="closed after evaluation", at=datetime.now(UTC))  # fmt: skip
    envelope = Envelope(payload=closed, source="/yiwang/oversight")
    # Delivered twice, and sent again under another event id: each duplicate closes once.
    again = Envelope(payload=closed, source="/yiwang/oversight")
    await publish_events(kafka, *[("case.lifecycle.v1", e) for e in (envelope, envelope, again)],
                         prefix=PREFIX)  # fmt: skip

    async def states() -> list[str]:
        return [(await client.get(f"/v1/cases/{d['case_number']}")).json()["status"]
                for d in duplicates]  # fmt: skip

    assert await eventually(states, until=lambda s: s == ["closed", "closed"], within=20) == [
        "closed",
        "closed",
    ]
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        shown = (await c.get(f"/requests/{duplicates[0]['case_number']}.json")).json()[0]
    assert shown["status"] == "closed"
    assert shown["status_notes"] == f"已结案 Closed: closed with {master['case_number']}"
    ids = {d["case_id"] for d in duplicates}

    async def closes() -> list[Any]:
        records = await read_topic(kafka, f"{PREFIX}case.lifecycle.v1", expect=0, within=1)
        return [
            e.payload
            for e in (decode(r.value, r.headers) for r in records)
            if e.subject in ids and e.payload.to_state is CaseState.CLOSED
        ]

    found = await eventually(closes, until=lambda found: len(found) >= 2, within=20)
    await asyncio.sleep(1.5)  # the later deliveries too
    found = await closes()
    assert sorted(e.case_id for e in found) == sorted(ids)
    assert {(e.from_state, e.actor, e.note) for e in found} == {
        (CaseState.DUPLICATE, "intake", f"closed with {master['case_number']}")
    }


# --- Open311 --------------------------------------------------------------------------


async def test_open311_json_round_trip(intake: ServiceProcess, key: str, kafka: str) -> None:
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        discovery = (await c.get("/discovery.json")).json()
        assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
        services = (await c.get("/services.json")).json()
        codes = {s["service_code"] for s in services}
        assert {"food-safety", "fire-hazard", "neighbour-dispute"} <= codes
        definition = (await c.get("/services/fire-hazard.json")).json()
        assert definition["attributes"][0]["code"] == "hazard_level"

        form = {"api_key": key, "service_code": "food-safety", "lat": "37.885", "long": "113.625",
                "description": "后厨卫生差", "first_name": "雷", "last_name": "韩", "phone": PHONE,
                "attribute[business_name]": "老王饭店"}  # fmt: skip
        created = await c.post("/requests.json", data=form)
        assert created.status_code == 200, created.text
        request_id, token = created.json()[0]["service_request_id"], created.json()[0]["token"]
        assert (await c.get(f"/tokens/{token}.json")).json() == [
            {"service_request_id": request_id, "token": token}
        ]

        one = (await c.get(f"/requests/{request_id}.json")).json()[0]
        assert (one["status"], one["service_code"], one["description"]) == (
            "open",
            "food-safety",
            "后厨卫生差",
        )
        assert one["lat"] == pytest.approx(37.885)
        listed = (
            await c.get("/requests.json", params={"service_code": "food-safety", "status": "open"})
        ).json()
        assert request_id in {r["service_request_id"] for r in listed}

        # The lifecycle moves the case on; the Open311 status and notes follow it.
        case_id = next(r for r in listed if r["service_request_id"] == request_id)
        view = (
            await httpx.AsyncClient(base_url=intake.url, headers={"X-API-Key": key}).get(
                f"/v1/cases/{request_id}"
            )
        ).json()
        await publish_state(kafka, view["case_id"], CaseState.RESOLVED, note="已责令整改")
        for _ in range(50):
            one = (await c.get(f"/requests/{request_id}.json")).json()[0]
            if one["status"] == "closed":
                break
            await asyncio.sleep(0.2)
        assert one["status"] == "closed"
        assert one["status_notes"] == "已办结 Resolved: 已责令整改"
        assert case_id


async def publish_state(kafka: str, case_id: str, to_state: CaseState, *, note: str) -> None:
    change = CaseStateChanged(case_id=case_id, from_state=CaseState.IN_PROGRESS, to_state=to_state,
                              actor="market-supervision", note=note, at=datetime.now(UTC))  # fmt: skip
    envelope = Envelope(payload=change, source="/yiwang/department-dispatch")
    await publish_events(kafka, ("case.lifecycle.v1", envelope), prefix=PREFIX)


async def test_open311_xml_round_trip_and_errors(intake: ServiceProcess, key: str) -> None:
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        services = ET.fromstring((await c.get("/services.xml")).content)
        assert services.tag == "services"
        assert "noise" in {s.findtext("service_code") for s in services.findall("service")}
        definition = ET.fromstring((await c.get("/services/fire-hazard.xml")).content)
        assert definition.findtext("attributes/attribute/code") == "hazard_level"
        assert {
            v.findtext("key") for v in definition.findall("attributes/attribute/values/value")
        } == {"low", "medium", "high"}

        created = await c.post("/requests.xml", data={"api_key": key, "service_code": "fire-hazard", "lat": "37.9",
                                                         "long": "113.5", "attribute[hazard_level]": "medium"})  # fmt: skip
        assert created.headers["content-type"].startswith("text/xml")
        request_id = ET.fromstring(created.content).findtext("request/service_request_id")
        fetched = ET.fromstring((await c.get(f"/requests/{request_id}.xml")).content)
        assert fetched.findtext("request/status") == "open"
        assert fetched.findtext("request/service_code") == "fire-hazard"

        cases = [
            ({"api_key": "nope", "service_code": "noise", "lat": "37.9", "long": "113.5"}, 403),
            ({"api_key": key, "service_code": "nope", "lat": "37.9", "long": "113.5"}, 400),
            ({"api_key": key, "service_code": "noise"}, 400),  # no location
            (
                {"api_key": key, "service_code": "fire-hazard", "lat": "37.9", "long": "113.5"},
                400,
            ),  # attribute
        ]
        for form, status in cases:
            response = await c.post("/requests.xml", data=form)
            assert response.status_code == status, (form, response.text)
            error = ET.fromstring(response.content)
            assert error.tag == "errors"
            assert error.findtext("error/code") == str(status)
            assert error.findtext("error/description")
        missing = await c.get("/requests/YQ-19990101-00001.xml")
        assert missing.status_code == 404
        assert ET.fromstring(missing.content).findtext("error/code") == "404"
        assert (await c.get("/services/nope.json")).json() == [
            {"code": 404, "description": "service_code 'nope' not found"}
        ]


# --- Kafka rejections -----------------------------------------------------------------


async def test_rejected_kafka_submissions_are_answered_with_reasons(
    intake: ServiceProcess, kafka: str
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_source", b"/yq-platform"),
        ("ce_type", b"yiwang.intake.submit-case.v1"),
    ]
    outside = {"source": {"system": "yq-platform", "external_id": "out-1"}, "category": "noise", "title": "t",
               "description": "d", "location": {"lon": 116.4, "lat": 39.9}}  # fmt: skip
    invalid = {"source": {"system": "yq-platform", "external_id": "bad-1"}, "category": "noise", "title": "",
               "description": "d", "location": {"lon": 113.6, "lat": 95}}  # fmt: skip
    try:
        for n, body in enumerate((outside, invalid)):
            await producer.send_and_wait(f"{PREFIX}intake.submissions.v1", json.dumps(body).encode(),
                                         headers=[*headers, ("ce_id", f"rej-{n}".encode())])  # fmt: skip
    finally:
        await producer.stop()
    records = await read_topic(kafka, f"{PREFIX}intake.rejections.v1", expect=2)
    rejections = {
        decode(r.value, r.headers).payload.source.external_id: decode(r.value, r.headers).payload
        for r in records
    }
    assert rejections["out-1"].errors[0].field == "location"
    assert "outside" in rejections["out-1"].errors[0].reason
    fields = {e.field for e in rejections["bad-1"].errors}
    assert {"title", "location.lat"} <= fields


# --- bad input ------------------------------------------------------------------------


async def counts(intake: ServiceProcess) -> tuple[int, int, int]:
    conn = await db(intake)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM intake.cases"),
            await conn.fetchval("SELECT count(*) FROM intake.reporters"),
            await conn.fetchval("SELECT count(*) FROM intake.outbox"),
        )
    finally:
        await conn.close()


async def test_each_kind_of_bad_input_gets_a_clear_error_and_writes_nothing(
    client: httpx.AsyncClient, intake: ServiceProcess
) -> None:
    before = await counts(intake)
    ok = submission("portal")
    bad: list[tuple[dict[str, Any], int, str, str]] = [
        ({"content": b"x" * 70_000, "headers": {"content-type": "application/json"}}, 413, "(body)", "larger than"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "Content-Type", "not accepted"),
        ({"content": b'{"channel": ', "headers": {"content-type": "application/json"}}, 400, "(body)", "malformed JSON"),
        ({"content": b"<case><channel>", "headers": {"content-type": "application/xml"}}, 400, "(body)", "malformed XML"),
        ({"json": {**ok, "category": "ufo"}}, 422, "category", "unknown category 'ufo'"),
        ({"json": {**ok, "location": {"lon": 116.4, "lat": 39.9}}}, 422, "location", "outside"),
        ({"json": {**ok, "location": {"lon": 113.6, "lat": 91}}}, 422, "location.lat", "less than or equal to 90"),
        ({"json": {**ok, "location": {"lon": 113.6}}}, 422, "location", "lon and lat must be given together"),
        ({"json": {**ok, "priority": "whenever"}}, 422, "priority", "Input should be"),
        ({"json": {**ok, "title": ""}}, 422, "title", "at least 1 character"),
        ({"json": {**ok, "surprise": 1}}, 422, "surprise", "Extra inputs are not permitted"),
        ({"json": {**ok, "reporter": {"phone": "call me"}}}, 422, "reporter.phone", "String should match"),
        ({"json": {**ok, "hotline": {"call_id": "c1", "operator_id": "o1"}}}, 422, "hotline", "only allowed for channel 'hotline'"),
        ({"json": submission("grid_worker")}, 422, "grid_worker", "required for channel 'grid_worker'"),
        ({"json": {**submission("petition", petition={"form": "visit"}), "reporter": {"anonymous": True}}}, 422, "reporter.name", "petitioner"),
        ({"json": {**ok, "category": "fire-hazard", "attributes": {"hazard_level": "huge"}}}, 422, "attribute[hazard_level]", "must be one of"),
    ]  # fmt: skip
    for request, status, field, reason in bad:
        response = await client.post("/v1/cases", **request)
        assert response.status_code == status, (request.get("json"), response.text)
        error = response.json()["errors"][0]
        assert error["field"] == field, response.text
        assert reason in error["reason"], response.text
    async with httpx.AsyncClient(base_url=intake.url) as anonymous:
        assert (await anonymous.post("/v1/cases", json=ok)).status_code == 401
        read_only = issue_intake_key(intake, platform="test-platform", scopes="read")
        response = await anonymous.post("/v1/cases", json=ok, headers={"X-API-Key": read_only})
        assert response.status_code == 403
        assert "lacks the 'submit' scope" in response.json()["errors"][0]["reason"]
        malformed_form = await anonymous.post("/open311/v2/requests.json", content=b"a=%zz&&&=",
                                              headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert malformed_form.status_code == 400
        assert "malformed form data" in malformed_form.json()[0]["description"]
        wrong_type = await anonymous.post(
            "/open311/v2/requests.json", json={"service_code": "noise"}
        )
        assert wrong_type.status_code == 400
    assert await counts(intake) == before


# --- personal data --------------------------------------------------------------------


async def test_no_phone_or_id_number_in_any_event_or_log_line(
    client: httpx.AsyncClient, kafka: str, intake: ServiceProcess
) -> None:
    body = submission("hotline", **CHANNELS["hotline"])
    assert (await client.post("/v1/cases", json=body)).status_code == 201
    await asyncio.sleep(1.0)  # let the relay publish
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        topics = [
            t for t in await admin.list_topics() if t.startswith(PREFIX) and "submissions" not in t
        ]
    finally:
        await admin.close()
    produced = b"".join(
        (record.value or b"") + b"".join(v for _, v in record.headers or ())
        for record in await read_all(kafka, topics)
    )
    assert produced, "expected intake to have produced events"
    log = await asyncio.to_thread(Path(intake.log_path).read_bytes)
    for secret in (PHONE, ID_NUMBER, "13800000001"):
        assert secret.encode() not in produced
        assert secret.encode() not in log
    assert b"139****5678" in produced
