"""Intake as a separate process against real Kafka, PostgreSQL and the identity provider:
every channel, Open311 in JSON and XML, Kafka ingestion, idempotency, duplicates, personal
data and each kind of bad input. Who may do what, signed platform records, evaluation
tokens, call-backs and erasure are in the second half."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from service_fixtures import issue_intake_key, service_under_test
from support import (
    ServiceProcess,
    kafka_options,
    new_topic_prefix,
    publish_events,
    read_all,
    read_topic,
    token_for,
)
from waiting import eventually
from yiwang.common.case import SourceRef
from yiwang.common.envelope import Envelope, KafkaRecord, decode, encode
from yiwang.common.events import CaseStateChanged, SubmitCase
from yiwang.common.producer import EventProducer
from yiwang.common.states import CaseState
from yiwang.intake.adapters.signing import sign_record, signed_submission

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
PHONE, ID_NUMBER = "13912345678", "140302198805061234"
HERE = (113.58, 37.86)
SPOTS = itertools.count()


# The retention job looks every second, so that its test need not wait an hour.
intake = service_under_test(
    "yiwang.intake.app", prefix=PREFIX, env={"INTAKE_PII_ERASE_EVERY_SECONDS": "1"}
)


def cli_output(intake: ServiceProcess, *args: str) -> str:
    done = intake.cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def key(intake: ServiceProcess) -> str:
    """test-platform's key; it also submits as the city platform's system."""
    return cli_output(
        intake, "issue-key", "--platform", "test-platform",
        "--systems", "test-platform,yq-city-platform",
    )  # fmt: skip


@pytest.fixture(scope="module")
def signing(intake: ServiceProcess) -> dict[str, str]:
    """The Kafka signing credentials of the systems these tests publish as."""
    return {
        system: cli_output(intake, "issue-signing-secret", system)
        for system in ("yq-grid-app", "yq-platform")
    }


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
    intake: ServiceProcess, kafka: str, signing: dict[str, str]
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
        await producer.send_records(
            [
                signed_submission(
                    command,
                    credential=signing["yq-grid-app"],
                    topic=f"{PREFIX}intake.submissions.v1",
                )
                for _ in range(5)
            ]
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
            ({"api_key": "nope", "service_code": "noise", "lat": "37.9", "long": "113.5"}, 401),
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
    intake: ServiceProcess, kafka: str, signing: dict[str, str]
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka_options(kafka))
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
            record = sign_record(
                KafkaRecord(f"{PREFIX}intake.submissions.v1", b"", json.dumps(body).encode(),
                            [*headers, ("ce_id", f"rej-{n}-{uuid.uuid4()}".encode())]),
                signer="yq-platform", credential=signing["yq-platform"],
            )  # fmt: skip
            await producer.send_and_wait(record.topic, record.value, headers=record.headers)
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
            # Events ever queued: the relay deletes the rows it has sent.
            await conn.fetchval("SELECT last_value FROM intake.outbox_id_seq"),
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
        assert response.json()["errors"][0]["field"] == "authorization"
        assert "lacks the 'submit' scope" in response.json()["errors"][0]["reason"]
        malformed_form = await anonymous.post("/open311/v2/requests.json", content=b"a=%zz&&&=",
                                              headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert malformed_form.status_code == 400
        assert "malformed form data" in malformed_form.json()[0]["description"]
        no_key = await anonymous.post("/open311/v2/requests.json", json={"service_code": "noise"})
        assert no_key.status_code == 401
        assert no_key.json()[0]["code"] == 401
        wrong_type = await anonymous.post(
            "/open311/v2/requests.json", json={"service_code": "noise"},
            headers={"X-API-Key": read_only},
        )  # fmt: skip
        assert wrong_type.status_code == 400
    assert await counts(intake) == before


# --- personal data --------------------------------------------------------------------


async def test_no_phone_or_id_number_in_any_event_or_log_line(
    client: httpx.AsyncClient, kafka: str, intake: ServiceProcess
) -> None:
    # Typed into the text too, as residents do: scrubbed before anything leaves intake.
    body = submission("hotline", **CHANNELS["hotline"], title=f"回电{PHONE}",
                      description=f"请回电 {PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}，身份证{ID_NUMBER}")  # fmt: skip
    created = await client.post("/v1/cases", json=body)
    assert created.status_code == 201
    shown = (await client.get(f"/v1/cases/{created.json()['case_number']}")).json()
    assert (shown["title"], shown["description"]) == (
        "回电[手机号]",
        "请回电 [手机号]，身份证[身份证号]",
    )
    await asyncio.sleep(1.0)  # let the relay publish
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_options(kafka))
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


# --- who may do what (tokens from the real identity provider) -------------------------


def person(username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(username)}"}


@pytest.fixture
async def anyone(intake: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credential of its own (a request's X-API-Key would win over its
    bearer token): people's requests go through it."""
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as c:
        yield c


async def test_people_submit_for_the_channel_they_serve_and_are_named_on_the_timeline(
    intake: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as c:
        nobody = await c.post("/v1/cases", json=submission("portal"))
        assert nobody.status_code == 401
        assert nobody.json()["errors"][0]["field"] == "authorization"
        auditor = await c.post("/v1/cases", json=submission("portal"), headers=person("auditor"))
        assert auditor.status_code == 403, auditor.text

        call = submission("hotline", **CHANNELS["hotline"])
        made = await c.post("/v1/cases", json=call, headers=person("hotline_operator"))
        assert made.status_code == 201, made.text
        case = (await c.get(f"/v1/cases/{made.json()['case_number']}",
                            headers=person("hotline_operator"))).json()  # fmt: skip
        assert case["timeline"][0]["actor"] == "person:hotline_operator"

        refused = {
            "channel": await c.post("/v1/cases", json=submission("portal"),
                                    headers=person("hotline_operator")),
            "source.system": await c.post(
                "/v1/cases", headers=person("hotline_operator"),
                json={**call, "source": {"system": "yq-city-platform", "external_id": "p-1"}},
            ),
        }  # fmt: skip
        for field, response in refused.items():
            assert response.status_code == 403, response.text
            assert response.json()["errors"][0]["field"] == field
        petition = submission("petition", **CHANNELS["petition"])
        hub = await c.post("/v1/cases", json=petition, headers=person("hub_operator"))
        assert hub.status_code == 201, hub.text


async def test_a_platform_submits_only_as_its_own_systems_and_reads_only_its_cases(
    intake: ServiceProcess, client: httpx.AsyncClient, anyone: httpx.AsyncClient
) -> None:
    other = cli_output(intake, "issue-key", "--platform", "other-platform")
    theirs = {"system": "yq-city-platform", "external_id": f"x-{uuid.uuid4()}"}
    async with httpx.AsyncClient(base_url=intake.url, headers={"X-API-Key": other}) as c:
        stolen = await c.post("/v1/cases", json=submission("platform", source=theirs))
        assert stolen.status_code == 403
        assert stolen.json()["errors"][0]["field"] == "source.system"
        own = await c.post(
            "/v1/cases",
            json=submission("platform", source={**theirs, "system": "other-platform"}),
        )
        assert own.status_code == 201, own.text
        mine = (await client.post("/v1/cases", json=submission("portal"))).json()
        assert (await c.get(f"/v1/cases/{mine['case_number']}")).status_code == 404
        listed = (await c.get("/v1/cases", params={"limit": 200})).json()["cases"]
        assert [x["case_number"] for x in listed] == [own.json()["case_number"]]
    for reader in ("auditor", "hub_operator", "hotline_operator"):
        seen = await anyone.get(f"/v1/cases/{mine['case_number']}", headers=person(reader))
        assert seen.status_code == 200, (reader, seen.text)
    staff = await anyone.get(
        f"/v1/cases/{mine['case_number']}", headers=person("staff_urban_management")
    )
    assert staff.status_code == 403


async def test_the_idempotency_key_is_the_platforms_whichever_key_sends_it(
    intake: ServiceProcess, client: httpx.AsyncClient
) -> None:
    second_key = cli_output(intake, "issue-key", "--platform", "test-platform")
    body, headers = submission("portal"), {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post("/v1/cases", json=body, headers=headers)
    again = await client.post("/v1/cases", json=body, headers={**headers, "X-API-Key": second_key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["case_id"] == again.json()["case_id"]


# --- platforms' signed Kafka records ---------------------------------------------------


def platform_command(system: str, external_id: str, **changes: Any) -> SubmitCase:
    n = next(SPOTS)
    fields: dict[str, Any] = {
        "source": SourceRef(system=system, external_id=external_id), "category": "road-damage",
        "title": "路面塌陷", "description": "路口出现坑洞",
        "location": {"lon": HERE[0] + (n % 25) * 0.004, "lat": HERE[1] + (n // 25) * 0.004},
    }  # fmt: skip
    fields.update(changes)
    return SubmitCase.model_validate(fields)


async def rejection_reasons(kafka: str, external_ids: set[str]) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        records = await read_topic(kafka, f"{PREFIX}intake.rejections.v1", expect=0, within=1)
        for r in records:
            payload = decode(r.value, r.headers).payload
            if payload.source and payload.source.external_id in external_ids:
                found.setdefault(payload.source.external_id, []).extend(
                    f"{e.field}|{e.reason}" for e in payload.errors
                )
        return found

    return await eventually(read, until=lambda f: set(f) >= external_ids, within=30)


def plain_record(command: SubmitCase) -> KafkaRecord:
    """A platform's record, not signed."""
    envelope: Envelope[Any] = Envelope(payload=command, source=f"/{command.source.system}")
    return encode(envelope, topic=f"{PREFIX}intake.submissions.v1")


async def publish_records(kafka: str, records: list[KafkaRecord]) -> None:
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        await producer.send_records(records)
    finally:
        await producer.stop()


async def cases_of(intake: ServiceProcess, external_ids: set[str]) -> dict[str, str]:
    conn = await db(intake)
    try:
        rows = await conn.fetch(
            "SELECT external_id, submitted_by FROM intake.cases"
            " WHERE external_id = ANY($1::text[])",
            list(external_ids),
        )
    finally:
        await conn.close()
    return {r["external_id"]: r["submitted_by"] for r in rows}


async def test_kafka_records_count_only_when_their_platform_signed_them_recently_once(
    intake: ServiceProcess, kafka: str, signing: dict[str, str]
) -> None:
    run, grid_app = uuid.uuid4().hex[:8], signing["yq-grid-app"]

    def command(name: str) -> SubmitCase:
        return platform_command("yq-grid-app", f"{name}-{run}")

    good = sign_record(plain_record(command("good")), signer="yq-grid-app", credential=grid_app)
    tampered = sign_record(
        plain_record(command("tampered")), signer="yq-grid-app", credential=grid_app
    )
    tampered = replace(
        tampered, value=tampered.value.replace("路面塌陷".encode(), "路面沉降".encode())
    )
    records = [
        good,
        plain_record(command("unsigned")),
        sign_record(plain_record(command("stale")), signer="yq-grid-app", credential=grid_app,
                    at=datetime.now(UTC) - timedelta(minutes=10)),
        # Signed, with its own secret, by another platform than the one it submits as.
        sign_record(plain_record(command("mismatch")), signer="yq-platform", credential=signing["yq-platform"]),
        sign_record(plain_record(command("forged")), signer="yq-grid-app",
                    credential=grid_app.split(":")[0] + ":not-the-secret"),
        tampered,
    ]  # fmt: skip
    await publish_records(kafka, records)
    await eventually(lambda: cases_of(intake, {f"good-{run}"}), within=30)
    await publish_records(kafka, [good])  # the very same record again: a replay

    names = ("good", "unsigned", "stale", "mismatch", "forged", "tampered")
    reasons = await rejection_reasons(kafka, {f"{n}-{run}" for n in names})
    expected = {"good": "replayed", "unsigned": "unsigned", "stale": "stale",
                "mismatch": "signer_mismatch", "forged": "bad_signature",
                "tampered": "bad_signature"}  # fmt: skip
    for name, reason in expected.items():
        [said] = reasons[f"{name}-{run}"]
        assert said.startswith(f"yiwang-signature|{reason}:"), (name, said)
    assert await cases_of(intake, {f"{n}-{run}" for n in names}) == {f"good-{run}": "yq-grid-app"}


async def test_a_rotated_signing_secret_keeps_working_for_the_overlap_only(
    intake: ServiceProcess, kafka: str
) -> None:
    run = uuid.uuid4().hex[:6]
    overlapping, cut = f"rot-a-{run}", f"rot-b-{run}"
    old_a = cli_output(intake, "issue-signing-secret", overlapping)
    assert intake.cli("issue-signing-secret", overlapping).returncode == 1  # rotate instead
    new_a = cli_output(intake, "rotate-signing-secret", overlapping, "--overlap-hours", "1")
    old_b = cli_output(intake, "issue-signing-secret", cut)
    new_b = cli_output(intake, "rotate-signing-secret", cut, "--overlap-hours", "0")
    assert len({old_a, new_a, old_b, new_b}) == 4
    listed = cli_output(intake, "list-signing-secrets")
    assert overlapping in listed
    assert old_a.split(":")[1] not in listed
    sent = {f"{name}-{system}": (system, credential)
            for name, system, credential in (("old", overlapping, old_a), ("new", overlapping, new_a),
                                             ("old", cut, old_b), ("new", cut, new_b))}  # fmt: skip
    await publish_records(
        kafka,
        [sign_record(plain_record(platform_command(system, external_id)), signer=system, credential=c)
         for external_id, (system, c) in sent.items()],
    )  # fmt: skip
    admitted = await eventually(
        lambda: cases_of(intake, set(sent)), until=lambda found: len(found) >= 3, within=30
    )
    assert set(admitted) == {f"old-{overlapping}", f"new-{overlapping}", f"new-{cut}"}
    [reason] = (await rejection_reasons(kafka, {f"old-{cut}"}))[f"old-{cut}"]
    assert reason.startswith("yiwang-signature|unknown_key:")


# --- Open311's public reads -----------------------------------------------------------


async def test_open311_lists_only_public_categories_scrubbed_rounded_a_page_at_a_time(
    intake: ServiceProcess, client: httpx.AsyncClient
) -> None:
    dispute = submission("portal", category="neighbour-dispute", attributes={"parties_count": "2"})
    hidden = (await client.post("/v1/cases", json=dispute)).json()["case_number"]
    spot = {"lon": 113.612345, "lat": 37.912345}
    shown = (await client.post("/v1/cases", json=submission(
        "portal", category="streetlight", location=spot,
        description=f"路灯不亮，电话{PHONE}，邮箱 li.si@example.com")
    )).json()["case_number"]  # fmt: skip
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        assert (await c.get(f"/requests/{hidden}.json")).status_code == 404
        [one] = (await c.get(f"/requests/{shown}.json")).json()
        assert (one["lat"], one["long"]) == (37.912, 113.612)
        assert one["description"] == "路灯不亮，电话[手机号]，邮箱 [邮箱]"
        everything = []
        for page in range(1, 50):
            listed = (await c.get("/requests.json", params={"page": page, "page_size": 7})).json()
            assert len(listed) <= 7
            everything += listed
            if len(listed) < 7:
                break
        numbers = [r["service_request_id"] for r in everything]
        assert shown in numbers
        assert hidden not in numbers
        assert len(numbers) == len(set(numbers))
        asked = (
            await c.get("/requests.json", params={"service_request_id": f"{hidden},{shown}"})
        ).json()
        assert [r["service_request_id"] for r in asked] == [shown]
        assert (await c.get("/requests.json", params={"service_code": "neighbour-dispute"})).json() == []  # fmt: skip
        for params in ({"page_size": 101}, {"page": 0}, {"start_date": "0001-01-01T00:00:00Z"},
                       {"service_request_id": ",".join(["x"] * 101)}):  # fmt: skip
            refused = await c.get("/requests.json", params=params)
            assert refused.status_code == 400, (params, refused.text)
            assert refused.json()[0]["code"] == 400
        xml = await c.get("/requests.xml", params={"page_size": 0})
        assert xml.status_code == 400
        assert ET.fromstring(xml.content).findtext("error/code") == "400"


# --- personal data: call-backs, their audit, erasure and re-sealing -------------------


async def test_a_hotline_operator_calls_the_reporter_back_and_every_unseal_is_audited(
    intake: ServiceProcess, client: httpx.AsyncClient, anyone: httpx.AsyncClient
) -> None:
    made = (await client.post("/v1/cases", json=submission("portal"))).json()
    number = made["case_number"]
    async with httpx.AsyncClient(base_url=f"{intake.url}/v1/cases/{number}") as c:
        reason = {"reason": "回访：核实处置结果"}
        assert (await c.post("/call-back", json=reason)).status_code == 401
        assert (
            await c.post("/call-back", json=reason, headers=person("auditor"))
        ).status_code == 403
        short = await c.post("/call-back", json={"reason": "x"}, headers=person("hotline_operator"))
        assert short.status_code == 422
        assert short.json()["errors"][0]["field"] == "reason"
        called = await c.post("/call-back", json=reason, headers=person("hotline_operator"))
        assert called.status_code == 200, called.text
        assert (called.json()["phone"], called.json()["name_masked"]) == (PHONE, "李*")
        assert called.headers["cache-control"] == "no-store"
        assert (await c.get("/personal-data-access", headers=person("hotline_operator"))).status_code == 403  # fmt: skip
        trail = (await c.get("/personal-data-access", headers=person("auditor"))).json()
        assert [(a["actor"], a["action"], a["reason"]) for a in trail["accesses"]] == [
            ("person:hotline_operator", "unseal_phone", "回访：核实处置结果")
        ]
        anonymous = (await client.post("/v1/cases", json=submission(
            "portal", reporter={"anonymous": True}))).json()["case_number"]  # fmt: skip
        none = await anyone.post(f"/v1/cases/{anonymous}/call-back", json=reason,
                                 headers=person("hotline_operator"))  # fmt: skip
        assert none.status_code == 404
        assert none.json()["errors"][0]["field"] == "phone"

        erased = cli_output(
            intake, "erase-personal-data", "--case", number, "--reason", "居民申请删除"
        )
        assert "erased" in erased
        gone = await c.post("/call-back", json=reason, headers=person("hotline_operator"))
        assert gone.status_code == 410, gone.text
        trail = (await c.get("/personal-data-access", headers=person("hub_operator"))).json()
        assert [a["action"] for a in trail["accesses"]] == ["unseal_phone", "erase"]
        assert trail["accesses"][1]["actor"].startswith("operator:")


async def test_the_text_as_sent_is_sealed_with_the_reporter_and_erased_after_retention(
    intake: ServiceProcess, client: httpx.AsyncClient
) -> None:
    made = (await client.post("/v1/cases", json=submission(
        "portal", description=f"电话{PHONE}")
    )).json()  # fmt: skip
    conn = await db(intake)
    try:
        row = await conn.fetchrow(
            "SELECT r.description_sealed, r.title_sealed, c.description FROM intake.reporters r"
            " JOIN intake.cases c USING (case_id) WHERE c.case_id = $1::uuid", made["case_id"])  # fmt: skip
        assert row["description"] == "电话[手机号]"
        assert row["description_sealed"]
        assert PHONE.encode() not in row["description_sealed"]
        assert row["title_sealed"] is None  # the title had nothing to take out
        # Closed long ago: the retention job (every second in this module) erases it.
        await conn.execute(
            "UPDATE intake.cases SET state = 'closed', state_at = now() - interval '800 days'"
            " WHERE case_id = $1::uuid", made["case_id"])  # fmt: skip
        erased = await eventually(
            lambda: conn.fetchrow(
                "SELECT erased_at, phone_sealed, description_sealed, phone_masked"
                " FROM intake.reporters WHERE case_id = $1::uuid", made["case_id"]),
            until=lambda r: r["erased_at"] is not None, within=20,
        )  # fmt: skip
    finally:
        await conn.close()
    assert (erased["phone_sealed"], erased["description_sealed"], erased["phone_masked"]) == (None, None, None)  # fmt: skip
    async with httpx.AsyncClient() as c:
        metrics = (await c.get(f"{intake.url}/metrics")).text
    assert re.search(
        r'yiwang_intake_personal_data_erased_total\{reason="retention"\} [1-9]', metrics
    )


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "yiwang.intake.cli", *args], env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_reseal_moves_every_sealed_value_to_the_current_key_and_back(
    intake: ServiceProcess, client: httpx.AsyncClient, signing: dict[str, str]
) -> None:
    from yiwang.common.personal_data import split_sealed
    from yiwang.intake.config import DEVELOPMENT_PII_KEY

    await client.post("/v1/cases", json=submission("portal"))
    rotated = "k2:" + base64.b64encode(b"k" * 32).decode()
    env = {**intake.env, "INTAKE_PII_KEY": f"{rotated},legacy:{DEVELOPMENT_PII_KEY}"}
    done = await run_cli(env, "reseal", "--batch", "7")
    assert done.returncode == 0, done.stderr
    assert re.search(r"reporters: [1-9]\d* values sealed again under 'k2'", done.stdout), (
        done.stdout
    )
    assert re.search(r"signing_secrets: [1-9]\d* values", done.stdout), done.stdout
    conn = await db(intake)
    try:
        kids = {split_sealed(v["phone_sealed"])[0] for v in await conn.fetch(
            "SELECT phone_sealed FROM intake.reporters WHERE phone_sealed IS NOT NULL")}  # fmt: skip
        assert kids == {"k2"}
        back = {**env, "INTAKE_PII_KEY": f"legacy:{DEVELOPMENT_PII_KEY},{rotated}"}
        again = await run_cli(back, "reseal")
        assert again.returncode == 0, again.stderr
        kids = {split_sealed(v["phone_sealed"])[0] for v in await conn.fetch(
            "SELECT phone_sealed FROM intake.reporters WHERE phone_sealed IS NOT NULL")}  # fmt: skip
        assert kids == {"legacy"}
    finally:
        await conn.close()


def test_the_development_key_is_refused_outside_development(intake: ServiceProcess) -> None:
    env = {**intake.env, "YIWANG_ENV": "production", "YIWANG_HTTP_PORT": "1"}
    env.pop("INTAKE_PII_KEY", None)
    done = subprocess.run([sys.executable, "-m", "yiwang.intake.app"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "INTAKE_PII_KEY is the development default" in done.stderr
    assert "Traceback" not in done.stderr


# --- evaluation tokens ----------------------------------------------------------------


async def test_the_evaluation_token_is_shown_to_the_submitting_platform_and_hotline_only(
    intake: ServiceProcess, client: httpx.AsyncClient, anyone: httpx.AsyncClient, kafka: str
) -> None:
    from yiwang.common.events import EvaluationInvited

    made = (await client.post("/v1/cases", json=submission("portal"))).json()
    token, expires = f"tok-{uuid.uuid4().hex}", datetime.now(UTC) + timedelta(days=3)
    invited = EvaluationInvited(case_id=made["case_id"], token=token, expires_at=expires)
    await publish_events(kafka, ("oversight.invitations.v1",
                                 Envelope(payload=invited, source="/yiwang/oversight")), prefix=PREFIX)  # fmt: skip
    number = made["case_number"]

    async def shown() -> dict[str, Any]:
        return dict((await client.get(f"/v1/cases/{number}")).json())

    case = await eventually(shown, until=lambda c: "evaluation" in c, within=20)
    assert case["evaluation"]["token"] == token
    assert datetime.fromisoformat(case["evaluation"]["expires_at"]) == expires
    hotline = (await anyone.get(f"/v1/cases/{number}", headers=person("hotline_operator"))).json()
    assert hotline["evaluation"]["token"] == token
    for reader in ("hub_operator", "auditor"):
        seen = (await anyone.get(f"/v1/cases/{number}", headers=person(reader))).json()
        assert "evaluation" not in seen, reader
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        assert token not in (await c.get(f"/requests/{number}.json")).text
    conn = await db(intake)
    try:
        sealed = await conn.fetchval("SELECT token_sealed FROM intake.evaluation_tokens"
                                     " WHERE case_id = $1::uuid", made["case_id"])  # fmt: skip
    finally:
        await conn.close()
    assert token.encode() not in sealed


# --- hostile input --------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<case><channel>portal</channel><title>&lol3;</title></case>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE case [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<case><channel>portal</channel><title>&xxe;</title></case>"
)
DTD_ONLY = '<?xml version="1.0"?><!DOCTYPE case [<!ELEMENT case ANY>]><case><channel>portal</channel></case>'


async def test_hostile_bodies_and_parameters_are_4xx_naming_the_field(
    intake: ServiceProcess, client: httpx.AsyncClient
) -> None:
    before = await counts(intake)
    xml = {"content-type": "application/xml"}
    for body in (BILLION_LAUGHS, XXE, DTD_ONLY):
        response = await client.post("/v1/cases", content=body.encode(), headers=xml)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "(body)"
    deep = [
        ("[" * 10_000 + "]" * 10_000, "application/json"),
        ("<a>" * 10_000, "application/xml"),  # refused at depth 33, long before the end
    ]
    for body, kind in deep:
        response = await client.post(
            "/v1/cases", content=body.encode(), headers={"content-type": kind}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "(body)"
    bad_queries = [
        ({"received_from": "0001-01-01"}, 422, "received_from"),
        ({"received_to": "9999-12-31T00:00:00Z"}, 422, "received_to"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 10_000}, 422, "limit"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "x" * 500}, 422, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(f"0001-01-01T00:00:00+00:00|{uuid.uuid4()}".encode()).decode()}, 400, "cursor"),
        ({"category": "a" * 100}, 422, "category.0"),
        ({"status": "nowhere"}, 422, "status.0"),
    ]  # fmt: skip
    for params, status, field in bad_queries:
        response = await client.get("/v1/cases", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["errors"][0]["field"] == field, (params, response.text)
    assert (await client.get("/v1/cases/" + "9" * 65)).status_code == 422
    assert (await client.post("/v1/cases", json=submission("portal"),
                              headers={"Idempotency-Key": "k" * 200})).status_code == 422  # fmt: skip
    async with httpx.AsyncClient(base_url=f"{intake.url}/open311/v2") as c:
        # Refused by the input guard before any route: still the spec's error list.
        nul = await c.get("/requests.json", params={"service_code": "noise\x00"})
        assert nul.status_code == 400
        assert nul.json()[0]["code"] == 400
        assert "NUL" in nul.json()[0]["description"]
        nul_xml = await c.get("/requests.xml", params={"service_code": "noise\x00"})
        assert ET.fromstring(nul_xml.content).findtext("error/code") == "400"
        big = await c.post("/requests.json", content=b"a=" + b"x" * 70_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert big.status_code == 413
        assert big.json()[0]["code"] == 413
    assert await counts(intake) == before
