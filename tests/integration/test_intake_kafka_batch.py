"""Kafka ingestion in batches, against real Kafka and PostgreSQL: a burst of mixed
submissions (valid, invalid, retries, a reused key, duplicates of each other and of a
stored case, records not signed by their platform) comes out as if each had been handled
after the ones before it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from service_fixtures import service_under_test
from support import ServiceProcess, new_topic_prefix, publish_events, read_topic
from waiting import eventually
from yiwang.common.case import Location, SourceRef
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, KafkaRecord, decode, encode
from yiwang.common.events import CaseStateChanged, SubmitCase
from yiwang.common.producer import EventProducer
from yiwang.common.states import CaseState
from yiwang.intake.adapters.signing import sign_record

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
SUBMISSIONS = f"{PREFIX}intake.submissions.v1"
SYSTEM = "yq-burst"
STORED_MASTER = (113.70, 38.10)
GROUP = (113.75, 38.15)  # three reports within ~60 m of each other, all in the burst

intake = service_under_test("yiwang.intake.app", prefix=PREFIX)
CREDENTIALS: dict[str, str] = {}  # the burst platform's signing secret, once issued


@pytest.fixture(scope="module", autouse=True)
def credential(intake: ServiceProcess) -> str:
    done = intake.cli("issue-signing-secret", SYSTEM)
    assert done.returncode == 0, done.stderr
    CREDENTIALS[SYSTEM] = done.stdout.strip()
    return CREDENTIALS[SYSTEM]


def command(external_id: str, lon: float, lat: float, **changes: Any) -> SubmitCase:
    fields: dict[str, Any] = {
        "source": SourceRef(system=SYSTEM, external_id=external_id),
        "category": "road-damage",
        "title": "路面塌陷",
        "description": "路口出现坑洞",
        "location": Location(lon=lon, lat=lat),
        "reporter": {"name": "王五", "phone": "13700000000"},
    }
    fields.update(changes)
    return SubmitCase.model_validate(fields)


def trace_of(external_id: str) -> str:
    """A trace id of the sender's own, one per submission."""
    return uuid.uuid5(uuid.NAMESPACE_URL, PREFIX + external_id).hex


def record(cmd: SubmitCase, *, signed: bool = True) -> KafkaRecord:
    traceparent = f"00-{trace_of(cmd.source.external_id)}-{'1' * 16}-01"
    envelope = Envelope(payload=cmd, source=f"/{SYSTEM}", traceparent=traceparent)
    plain = encode(envelope, topic=SUBMISSIONS)
    return sign_record(plain, signer=SYSTEM, credential=CREDENTIALS[SYSTEM]) if signed else plain


def undecodable(external_id: str) -> KafkaRecord:
    body = {"source": {"system": SYSTEM, "external_id": external_id}, "category": "noise",
            "title": "", "description": "d", "location": {"lon": 113.6, "lat": 37.9}}  # fmt: skip
    headers = [("ce_specversion", b"1.0"), ("ce_source", f"/{SYSTEM}".encode()),
               ("ce_type", b"yiwang.intake.submit-case.v1"), ("ce_id", b"burst-undecodable")]  # fmt: skip
    plain = KafkaRecord(
        topic=SUBMISSIONS, key=b"", value=json.dumps(body).encode(), headers=headers
    )
    return sign_record(plain, signer=SYSTEM, credential=CREDENTIALS[SYSTEM])


def forged(cmd: SubmitCase) -> KafkaRecord:
    """Signed with a guessed secret under the platform's key id."""
    key_id = CREDENTIALS[SYSTEM].split(":")[0]
    return sign_record(record(cmd, signed=False), signer=SYSTEM, credential=f"{key_id}:guessed")


async def cases_by_external_id(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT * FROM intake.cases WHERE source_system = $1 ORDER BY case_number", SYSTEM
    )
    return {row["external_id"]: row for row in rows}


async def test_a_burst_of_mixed_submissions(intake: ServiceProcess, kafka: str) -> None:
    producer = EventProducer(bootstrap_servers=kafka, client_id="burst")
    await producer.start()
    conn = await asyncpg.connect(intake.database_url)
    try:
        await producer.send_records([record(command("stored", *STORED_MASTER))])
        assert await eventually(lambda: _count(conn), until=lambda n: n == 1, within=20) == 1

        spots = [(113.30 + (n % 10) * 0.01, 37.70 + (n // 10) * 0.01) for n in range(40)]
        valid = [command(f"v{n}", lon, lat) for n, (lon, lat) in enumerate(spots)]
        burst = [
            *(record(c) for c in valid),
            *(record(c) for c in valid[:5]),  # retries: the same submission again
            record(command("v7", *spots[7], title="另一件事")),  # a key reused for another
            record(command("outside", 116.4, 39.9)),  # Beijing: outside the county
            undecodable("empty-title"),
            record(command("stored", *STORED_MASTER)),  # a retry of the stored one
            *(record(command(f"g{n}", GROUP[0] + n * 0.0003, GROUP[1])) for n in range(3)),
            *(record(command(f"s{n}", STORED_MASTER[0] + 0.0004, STORED_MASTER[1] - n * 0.0003))
              for n in range(2)),
            record(command("unsigned", 113.31, 38.0), signed=False),  # not the platform's own
            forged(command("forged", 113.32, 38.0)),
        ]  # fmt: skip
        await producer.send_records(burst)
        await eventually(lambda: _count(conn), until=lambda n: n >= 46, within=30)
        await asyncio.sleep(1.0)  # anything more would show up now
        cases = await cases_by_external_id(conn)
        timeline = await conn.fetchval("SELECT count(*) FROM intake.timeline")
    finally:
        await conn.close()
        await producer.stop()

    assert len(cases) == 46  # 1 stored + 40 + 3 + 2: no retry made a second case
    assert len({c["case_number"] for c in cases.values()}) == 46
    assert timeline == 46  # each case's "received" entry
    assert cases["v7"]["title"] == "路面塌陷"  # the reused key changed nothing

    group = [cases[f"g{n}"] for n in range(3)]
    [master] = [c for c in group if c["master_case_id"] is None]
    assert master["reporter_count"] == 3
    assert all(c["master_case_id"] == master["case_id"] for c in group if c is not master)
    assert all(c["state"] == "duplicate" for c in group if c is not master)
    stored = cases["stored"]
    assert stored["reporter_count"] == 3
    assert [cases[f"s{n}"]["master_case_id"] for n in range(2)] == [stored["case_id"]] * 2

    rejections = [
        decode(r.value, r.headers).payload
        for r in await read_topic(kafka, f"{PREFIX}intake.rejections.v1", expect=5)
    ]
    reasons = {r.source.external_id: r.errors for r in rejections}
    assert len(rejections) == 5, reasons
    assert reasons["v7"][0].field == "source.external_id"
    assert [(e.field, e.reason.split(":")[0]) for e in reasons["unsigned"]] == [
        ("yiwang-signature", "unsigned")
    ]
    assert [(e.field, e.reason.split(":")[0]) for e in reasons["forged"]] == [
        ("yiwang-signature", "bad_signature")
    ]
    assert "already used" in reasons["v7"][0].reason
    assert reasons["outside"][0].field == "location"
    assert "outside" in reasons["outside"][0].reason
    assert reasons["empty-title"][0].field == "title"

    received = [
        decode(r.value, r.headers)
        for r in await read_topic(kafka, f"{PREFIX}case.received.v1", expect=42)
    ]
    assert Counter(e.subject for e in received) == Counter(
        {str(c["case_id"]): 1 for c in cases.values() if c["master_case_id"] is None}
    )  # one each for the 42 that go on to routing; none for duplicates or retries
    for event in received:  # each carries its own submission's trace, not the batch's
        assert event.traceparent is not None
        assert event.traceparent.split("-")[1] == trace_of(event.payload.case.source.external_id)
    lifecycle = [
        decode(r.value, r.headers)
        for r in await read_topic(kafka, f"{PREFIX}case.lifecycle.v1", expect=50)
    ]
    linked = {
        master_id: sorted(
            e.payload.reporter_count
            for e in lifecycle
            if e.type == "yiwang.case.duplicate-linked.v1" and e.subject == master_id
        )
        for master_id in (str(master["case_id"]), str(stored["case_id"]))
    }
    assert linked == {str(master["case_id"]): [2, 3], str(stored["case_id"]): [2, 3]}
    received_changes = [
        e
        for e in lifecycle
        if e.type == "yiwang.case.state-changed.v1" and e.payload.from_state is None
    ]
    assert len(received_changes) == 46
    log = await asyncio.to_thread(Path(intake.log_path).read_text)
    assert "batch failed" not in log  # no record needed the one-at-a-time path


async def _count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM intake.cases"))


async def test_a_poll_of_lifecycle_changes_moves_the_view_as_one_by_one(
    intake: ServiceProcess, kafka: str
) -> None:
    conn = await asyncpg.connect(intake.database_url)
    try:
        ids = [str(r["case_id"]) for r in await conn.fetch(
            "SELECT case_id FROM intake.cases WHERE master_case_id IS NULL ORDER BY case_number LIMIT 2")]  # fmt: skip
        now = datetime.now(UTC)

        def change(case_id: str, to_state: CaseState, minutes: int, **extra: Any) -> Any:
            fields = {"from_state": CaseState.RECEIVED, **extra}
            payload = CaseStateChanged(case_id=case_id, to_state=to_state, actor="t",
                                       at=now + timedelta(minutes=minutes), **fields)  # fmt: skip
            return ("case.lifecycle.v1", Envelope(payload=payload, source="/yiwang/t"))

        routed = change(ids[0], CaseState.ROUTED, 1, department=Department.URBAN_MANAGEMENT)
        await publish_events(
            kafka,
            routed,
            change(ids[0], CaseState.DISPATCHED, 2, from_state=CaseState.ROUTED),
            change(ids[0], CaseState.RETURNED, 0, note="older: passed over"),
            routed,  # delivered twice: one timeline entry
            change(ids[1], CaseState.REJECTED, 1, note="不予受理"),
            prefix=PREFIX,
        )
        rows = await eventually(
            lambda: conn.fetch(
                "SELECT case_id::text, state, lead_department, status_note FROM intake.cases"
                " WHERE case_id = ANY($1::uuid[]) ORDER BY case_number",
                ids,
            ),
            until=lambda rows: rows[1]["state"] == "rejected" and rows[0]["state"] != "received",
            within=20,
        )
        entries = await conn.fetchval(
            "SELECT count(*) FROM intake.timeline WHERE case_id = $1::uuid", ids[0]
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        (ids[0], "dispatched", "urban-management", None),
        (ids[1], "rejected", None, "不予受理"),
    ]
    assert entries == 1 + 3  # its own "received", then routed, dispatched and the older one
