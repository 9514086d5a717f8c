"""Oversight as its own process, on the real Kafka, PostgreSQL and identity provider: the
projection under reordering and repeats, bounce and stranded flagging, who may read and act
(bearer tokens from the local Keycloak), residents' one-time evaluation tokens,
evaluations closing and reopening cases, KPIs, metrics, bad input and dead letters.

The service's clock is held at Wednesday 4 March 2026, noon in Shanghai (a clock epoch
then, running ten million times slower than real time), two days after the scripted
cases were received: their deadlines and timers fall where the tests say, whenever the
tests run."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from service_fixtures import service_under_test
from support import ServiceProcess, bearer, new_topic_prefix, publish_events, read_topic
from waiting import eventually
from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, KafkaRecord
from yiwang.common.events import (
    CaseEvaluated,
    CaseRouted,
    CaseStateChanged,
    Event,
    HandlingTier,
    MicroGridRef,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.producer import EventProducer
from yiwang.common.states import CaseState as S
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_REOPENED,
    CASE_ROUTED,
    DISPATCH_WHISTLES,
    OVERSIGHT_ALERTS,
    OVERSIGHT_EVALUATIONS,
    OVERSIGHT_INVITATIONS,
)

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
RUN = uuid.uuid4().hex[:6]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 in Shanghai
NOW = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)  # the service's clock: Wednesday, noon
UM, MS = Department.URBAN_MANAGEMENT, Department.MARKET_SUPERVISION
TOWNSHIP = "140399001"  # the tests' tiny county: township_140399001 signs in for it
HUB = "hub_operator"


oversight = service_under_test(
    "yiwang.oversight.app",
    prefix=PREFIX,
    env={
        "OVERSIGHT_METRICS_REFRESH_SECONDS": "0.5",
        "OVERSIGHT_KPI_WINDOW_DAYS": "366",
        "OVERSIGHT_STRANDED_AFTER_MINUTES": "60",
        "YIWANG_CLOCK_EPOCH": NOW.isoformat(),
        "YIWANG_CLOCK_SPEED": "1e-7",
    },
)


def lifecycle(
    case_id: str, minutes: int, src: S | None, dst: S, dept: Department | None = None
) -> Envelope[Event]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            case_number=f"LZ-{case_id}",
            from_state=src,
            to_state=dst,
            actor=dept.value if dept else "intake",
            at=T0 + timedelta(minutes=minutes),
            department=dept,
            category="sanitation",
            channel=Channel.HOTLINE,
            priority=Priority.NORMAL,
        ),
        source="/yiwang/test",
    )


def routed(case_id: str, minutes: int, lead: Department) -> Envelope[Event]:
    return Envelope(
        payload=CaseRouted(
            case_id=case_id,
            case=CaseFacts(
                case_id=case_id,
                case_number=f"LZ-{case_id}",
                category="sanitation",
                title="垃圾未清运",
                description="小区门口垃圾两天未清运",
                channel=Channel.HOTLINE,
                location=Location(address="东城街道 7 号"),
            ),
            micro_grid=MicroGridRef(
                code="mg-7",
                name="七号微网格",
                grid_code="g-1",
                community_code="c-1",
                township_code=TOWNSHIP,
                county_code="140399",
            ),
            lead_department=lead,
            tier=HandlingTier.TOWNSHIP,
            sla_class="normal",
            rule_id="sanitation",
            reason="responsibility matrix",
        ),
        source="/yiwang/test",
        time=T0 + timedelta(minutes=minutes),
    )


def resolved_story(case_id: str) -> list[tuple[str, Envelope[Event]]]:
    return [
        (CASE_LIFECYCLE, lifecycle(case_id, 0, None, S.RECEIVED)),
        (CASE_ROUTED, routed(case_id, 1, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 1, S.RECEIVED, S.ROUTED, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 5, S.ROUTED, S.DISPATCHED, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 60, S.DISPATCHED, S.ACKNOWLEDGED, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 600, S.ACKNOWLEDGED, S.RESOLVED, UM)),
    ]


def bounced_story(case_id: str) -> list[tuple[str, Envelope[Event]]]:
    return [
        (CASE_LIFECYCLE, lifecycle(case_id, 0, None, S.RECEIVED)),
        (CASE_ROUTED, routed(case_id, 1, MS)),
        (CASE_LIFECYCLE, lifecycle(case_id, 1, S.RECEIVED, S.ROUTED, MS)),
        (CASE_LIFECYCLE, lifecycle(case_id, 5, S.ROUTED, S.DISPATCHED, MS)),
        (CASE_LIFECYCLE, lifecycle(case_id, 20, S.DISPATCHED, S.RETURNED, MS)),
        (CASE_ROUTED, routed(case_id, 21, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 21, S.RETURNED, S.ROUTED, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 25, S.ROUTED, S.DISPATCHED, UM)),
        (CASE_LIFECYCLE, lifecycle(case_id, 40, S.DISPATCHED, S.RETURNED, UM)),
    ]


async def publish(kafka: str, events: list[tuple[str, Envelope[Event]]]) -> None:
    await publish_events(kafka, *events, prefix=PREFIX)


def as_user(url: str, username: str | None = HUB) -> httpx.AsyncClient:
    """A client signed in at the identity provider as `username` (None: no credential)."""
    return httpx.AsyncClient(base_url=url, headers=bearer(username) if username else {})


async def invitations(kafka: str, *, expect: int) -> dict[str, dict[str, Any]]:
    """The EvaluationInvited payloads on the wire, by case id."""
    records = await read_topic(kafka, PREFIX + OVERSIGHT_INVITATIONS, expect=expect, settle=0.5)
    return {p["case_id"]: p for p in (json.loads(r.value) for r in records)}


async def wait_for_case(url: str, case_id: str, *, entries: int, state: str) -> dict[str, Any]:
    async with as_user(url) as client:

        async def case() -> dict[str, Any]:
            response = await client.get(f"/cases/{case_id}")
            return response.json() if response.status_code == 200 else {}

        def reached(body: dict[str, Any]) -> bool:
            # Alerts come on the timers' own schedule: count the story's entries only.
            story = [e for e in body.get("timeline", ()) if e["kind"] != "alert"]
            return len(story) >= entries and body.get("state") == state

        body = await eventually(case, until=reached)
    if reached(body):
        return body
    raise AssertionError(f"case {case_id} did not reach {state} with {entries} entries: {body}")


A, B, C = f"a-{RUN}", f"b-{RUN}", f"c-{RUN}"
VOLATILE = {
    "case_id",
    "case_number",
    "updated_at",
    "timeline",
    "alerts",
    "evaluations",
    "follow_up_calls",
}


async def test_reordered_and_repeated_events_give_the_same_projection(
    oversight: ServiceProcess, kafka: str
) -> None:
    url = oversight.url
    in_order = resolved_story(A)
    scrambled = resolved_story(B)
    scrambled = scrambled[::-1] + scrambled[2:4]  # newest first, and two delivered twice
    await publish(kafka, in_order + scrambled + bounced_story(C))
    a = await wait_for_case(url, A, entries=6, state="resolved")
    b = await wait_for_case(url, B, entries=6, state="resolved")
    assert {k: v for k, v in a.items() if k not in VOLATILE} == {
        k: v for k, v in b.items() if k not in VOLATILE
    }

    def shape(case: dict[str, Any]) -> list[tuple[Any, ...]]:
        # Alerts come on the timers' own schedule: compare the story's entries.
        story = [e for e in case["timeline"] if e["kind"] != "alert"]
        return [(e["at"], e["kind"], e["to_state"], e["actor"]) for e in story]

    assert shape(a) == shape(b)
    assert [e["to_state"] for e in a["timeline"] if e["kind"] == "state_changed"] == [
        "received",
        "routed",
        "dispatched",
        "acknowledged",
        "resolved",
    ]
    assert a["lead_department"] == "urban-management"
    assert a["township_code"] == TOWNSHIP
    assert a["micro_grid"] == "mg-7"
    assert a["sla_policy"] == "hotline-normal"
    # Old events without CaseFacts.received_at: the clock starts at the routing's time.
    assert a["started_at"] == a["clock_started_at"]
    assert a["started_at"].startswith("2026-03-02T01:01:00")
    # 7 working days from Monday 2 March: due by the end of Wednesday 11 March (Shanghai)
    assert a["resolution_due"] == "2026-03-11T16:00:00Z" or a["resolution_due"].startswith(
        "2026-03-11T16:00:00"
    )
    assert a["overdue"] is False


async def test_a_case_returned_twice_is_flagged_to_the_county_hub(
    oversight: ServiceProcess, kafka: str
) -> None:
    url = oversight.url
    c = await wait_for_case(url, C, entries=9, state="returned")
    assert c["return_count"] == 2
    assert c["returned_by"] == ["market-supervision", "urban-management"]
    records = await read_topic(kafka, PREFIX + OVERSIGHT_ALERTS, expect=1, within=20, settle=0.5)
    bounced = [
        json.loads(r.value)
        for r in records
        if json.loads(r.value)["case_id"] == C and json.loads(r.value)["kind"] == "bounced"
    ]
    assert len(bounced) == 1
    assert bounced[0]["command_level"] == "county"
    # Returned 40 minutes after receipt and never routed again: stranded, once.
    async with as_user(url) as client:

        async def alerts() -> list[dict[str, Any]]:
            return list((await client.get(f"/cases/{C}")).json()["alerts"])

        found = await eventually(alerts, until=lambda a: any(x["kind"] == "stranded" for x in a))
    stranded = [a for a in found if a["kind"] == "stranded"]
    assert [(a["command_level"], a["department"]) for a in stranded] == [
        ("county", "urban-management")
    ]
    assert "'returned' since" in stranded[0]["reason"]
    on_the_wire = await read_topic(kafka, PREFIX + OVERSIGHT_ALERTS, expect=2, settle=1.0)
    assert [
        json.loads(r.value)["command_level"]
        for r in on_the_wire
        if json.loads(r.value)["case_id"] == C and json.loads(r.value)["kind"] == "stranded"
    ] == ["county"]
    assert c["overdue"] is True  # received in March, never signed for
    async with as_user(url) as client:
        found = (
            await client.get("/cases", params={"overdue": "true", "township": TOWNSHIP})
        ).json()
        assert C in [x["case_id"] for x in found["cases"]]
        assert A not in [x["case_id"] for x in found["cases"]]
        page = (
            await client.get(
                "/cases",
                params={
                    "from": "2026-03-02",
                    "to": "2026-03-02",
                    "limit": 2,
                    "department": "urban-management",
                },
            )
        ).json()
        assert page["total"] == 3
        assert len(page["cases"]) == 2


async def test_who_may_read_and_act_with_tokens_from_the_identity_provider(
    oversight: ServiceProcess,
) -> None:
    url = oversight.url
    await wait_for_case(url, A, entries=6, state="resolved")
    period = {"from": "2026-03-02", "to": "2026-03-02"}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/cases/{A}", {}),
        ("GET", "/cases", {}),
        ("GET", f"/cases/{A}/follow-up-calls", {}),
        ("POST", f"/cases/{C}/follow-up-calls", {"json": {"reached": False}}),
        ("POST", f"/cases/{A}/extensions", {"json": {"reason": "情况复杂"}}),
        ("POST", f"/cases/{C}/evaluations", {"json": {"score": 5}}),
        ("GET", "/kpis", {"params": period}),
        ("GET", "/rankings", {"params": period}),
        ("GET", "/ledgers", {}),
        ("GET", "/reports/daily", {"params": {"day": "2026-03-02"}}),
    ]
    reads = [200, 200, 200, 403, 403, 403, 200, 200, 200, 200]
    expected = {
        None: [401] * 10,
        "mediator_140399": [403] * 10,
        "auditor": reads,
        "administrator": reads,
        HUB: [200, 200, 200, 403, 409, 403, 200, 200, 200, 200],  # A allows no extension
        f"township_{TOWNSHIP}": reads,
        "township_140399002": [403, 200, 403, 403, 403, 403, 200, 200, 200, 200],
        "staff_urban_management": reads,
        "staff_market_supervision": [403, 200, 403, 403, 403, 403, 200, 200, 200, 200],
        "hotline_operator": [403, 403, 403, 201, 403, 409, 403, 403, 403, 403],
    }
    for who, statuses in expected.items():
        async with as_user(url, who) as client:
            got = [(await client.request(m, path, **kw)).status_code for m, path, kw in calls]
        assert got == statuses, who
    async with as_user(url, None) as nobody, as_user(url, "township_140399002") as other:
        assert (await nobody.get(f"/cases/{A}")).json()["errors"][0]["field"] == "authorization"
        outside = (await other.get(f"/cases/{A}")).json()
        assert outside["status"] == 403
        assert outside["errors"][0]["field"] == "authorization"
        assert (await other.get("/cases")).json()["total"] == 0
    async with as_user(url, f"township_{TOWNSHIP}") as own:
        assert {A, B} <= {c["case_id"] for c in (await own.get("/cases")).json()["cases"]}
    # The hotline operator's call is on C's timeline under the operator's own name.
    async with as_user(url) as hub:
        timeline = (await hub.get(f"/cases/{C}")).json()["timeline"]
    assert [e["actor"] for e in timeline if e["kind"] == "follow_up_call"] == [
        "person:hotline_operator"
    ]


async def test_residents_evaluate_once_with_their_token_and_operators_without(
    oversight: ServiceProcess, kafka: str
) -> None:
    url = oversight.url
    await wait_for_case(url, A, entries=6, state="resolved")
    await wait_for_case(url, B, entries=6, state="resolved")
    await wait_for_case(url, C, entries=9, state="returned")
    invited = await invitations(kafka, expect=2)
    assert set(invited) == {A, B}  # C was never resolved
    # The close timer: 3 working days after Monday's resolution, end of Thursday.
    assert invited[A]["expires_at"].startswith("2026-03-05T16:00:00")
    async with as_user(url, None) as resident, as_user(url, "hotline_operator") as operator:
        unknown = await operator.post("/cases/nope/evaluations", json={"score": 5})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert unknown.json()["errors"][0]["field"] == "case_id"
        unresolved = await operator.post(f"/cases/{C}/evaluations", json={"score": 5})
        assert unresolved.status_code == 409
        assert "only a resolved case can be evaluated" in unresolved.json()["errors"][0]["reason"]
        too_high = await resident.post(
            f"/cases/{A}/evaluations", json={"score": 6, "token": invited[A]["token"]}
        )
        assert too_high.status_code == 422
        assert too_high.json()["errors"][0]["field"] == "score"
        no_token = await resident.post(f"/cases/{A}/evaluations", json={"score": 5})
        assert no_token.status_code == 401
        assert no_token.json()["errors"][0]["field"] == "authorization"
        for token in ("x" * 43, invited[B]["token"]):  # wrong, or another case's
            wrong = await resident.post(
                f"/cases/{A}/evaluations", json={"score": 5, "token": token}
            )
            assert wrong.status_code == 403, wrong.text
            assert wrong.json()["errors"][0]["field"] == "token"
        with_token = {"score": 5, "comment": "很及时", "token": invited[A]["token"]}
        ok = await resident.post(f"/cases/{A}/evaluations", json=with_token)
        assert ok.status_code == 201, ok.text
        assert ok.json()["state"] == "closed"  # satisfied: closed at once
        used = await resident.post(f"/cases/{A}/evaluations", json=with_token)
        assert used.status_code == 403
        assert "used already" in used.json()["errors"][0]["reason"]
        again = await operator.post(f"/cases/{A}/evaluations", json={"score": 4})
        assert again.status_code == 409
        assert again.json()["code"] == "case_closed"
        assert again.json()["errors"][0]["field"] == "case_id"
        call = await operator.post(
            f"/cases/{A}/follow-up-calls",
            json={"operator": "op-7", "reached": True, "satisfied": True, "note": "13912345678"},
        )
        assert call.status_code == 201
        assert call.json()["operator"] == "person:hotline_operator"
        assert "13912345678" not in call.json()["note"]
    async with as_user(url, "auditor") as auditor:
        assert len((await auditor.get(f"/cases/{A}/follow-up-calls")).json()) == 1
    # On the topic: without a token the evaluation is dead-lettered at once; with B's it
    # is taken.
    await publish(
        kafka,
        [
            (
                OVERSIGHT_EVALUATIONS,
                Envelope(
                    payload=CaseEvaluated(case_id=B, evaluation_id=f"ev-no-{B}", score=5),
                    source="/yiwang/test",
                ),
            ),
            (
                OVERSIGHT_EVALUATIONS,
                Envelope(
                    payload=CaseEvaluated(
                        case_id=B,
                        evaluation_id=f"ev-{B}",
                        score=2,
                        token=invited[B]["token"],
                    ),
                    source="/yiwang/test",
                ),
            ),
        ],
    )
    dead = await read_topic(
        kafka, PREFIX + OVERSIGHT_EVALUATIONS + ".dlq", expect=1, within=20, settle=0.5
    )
    assert len(dead) == 1
    assert b"evaluation token is required" in dict(dead[0].headers)["dlq_error"]
    # Unsatisfied (不满意): reopened for re-handling by its lead; evaluated until dispatch
    # dispatches it again, its clocks restarted at the reopening.
    b = await wait_for_case(url, B, entries=9, state="evaluated")
    assert b["score"] == 2
    assert (b["rehandling"], b["is_open"], b["responded_at"], b["resolved_at"]) == (
        1,
        True,
        None,
        None,
    )
    assert b["clock_started_at"] == b["reopened_at"]
    assert b["clock_started_at"].startswith("2026-03-04T04:00")
    assert b["resolution_due"].startswith("2026-03-13T16:00:00")  # 7 working days from Wed
    assert [e["kind"] for e in b["timeline"]][-1] == "reopened"
    a = await wait_for_case(url, A, entries=10, state="closed")
    assert a["score"] == 5
    assert a["closed_after_evaluation"] is True
    assert [(e["actor"], e["note"]) for e in a["timeline"] if e["kind"] == "evaluated"] == [
        ("resident", "很及时")
    ]
    records = await read_topic(kafka, PREFIX + CASE_LIFECYCLE, expect=1, within=20, settle=0.5)
    steps = [
        (json.loads(r.value)["from_state"], json.loads(r.value)["to_state"])
        for r in records
        if json.loads(r.value)["case_id"] == A
        and json.loads(r.value)["to_state"] in ("evaluated", "closed")
    ]
    assert steps == [("resolved", "evaluated"), ("evaluated", "closed")]
    reopened = await read_topic(kafka, PREFIX + CASE_REOPENED, expect=1, within=20, settle=0.5)
    assert [
        (r["department"], r["to_hub"], r["rehandling"], r["evaluation_id"])
        for r in (json.loads(x.value) for x in reopened)
        if r["case_id"] == B
    ] == [("urban-management", False, 1, f"ev-{B}")]


async def test_kpis_on_the_scripted_cases(oversight: ServiceProcess, kafka: str) -> None:
    url = oversight.url
    await wait_for_case(url, A, entries=10, state="closed")
    await wait_for_case(url, B, entries=9, state="evaluated")
    blown = T0 + timedelta(minutes=30)
    await publish(
        kafka,
        [
            (
                DISPATCH_WHISTLES,
                Envelope(
                    payload=WhistleBlown(
                        case_id=C,
                        whistle_id=f"w-{RUN}",
                        township_code=TOWNSHIP,
                        departments=(UM, MS),
                        report_by=blown + timedelta(minutes=30),
                        reason="多部门推诿",
                    ),
                    source="/yiwang/test",
                    time=blown,
                ),
            ),
            (
                DISPATCH_WHISTLES,
                Envelope(
                    payload=WhistleAttendanceRecorded(
                        case_id=C,
                        whistle_id=f"w-{RUN}",
                        township_code=TOWNSHIP,
                        department=UM,
                        reported_at=blown + timedelta(minutes=20),
                        on_time=True,
                    ),
                    source="/yiwang/test",
                    time=blown + timedelta(minutes=20),
                ),
            ),
        ],
    )
    await wait_for_case(url, C, entries=11, state="returned")
    async with as_user(url, "auditor") as client:
        report = (
            await client.get("/kpis", params={"from": "2026-03-02", "to": "2026-03-02"})
        ).json()
        rows = {r["group"]: r for r in report["rows"]}
        um, ms = rows["urban-management"], rows["market-supervision"]

        def ratio(row: dict[str, Any], kpi: str) -> tuple[int, int]:
            return (row[f"{kpi}_numerator"], row[f"{kpi}_denominator"])

        # UM is lead for A (signed for at 60 min, resolved at 600 min, on time, closed after
        # its evaluation), B (the same, but reopened on Wednesday: its new handling's
        # deadlines have not come) and C (returned twice, never signed for; its response
        # deadline has passed, its resolution deadline, 11 March, not yet).
        assert ratio(um, "response_rate") == (1, 2)
        assert ratio(um, "resolution_rate") == (1, 1)
        assert ratio(um, "on_time_rate") == (1, 1)
        assert um["satisfaction_rate"] == 0.5  # A scored 5, B scored 2
        assert ratio(um, "return_rate") == (1, 3)  # C
        assert um["whistle_attendance_rate"] == 1.0
        assert ratio(um, "rehandling_rate") == (1, 2)  # A and B evaluated, B reopened
        assert ratio(um, "rehandled_to_hub_rate") == (0, 1)
        assert ratio(um, "arbitration_rate") == (0, 3)
        assert ratio(um, "evaluated_close_rate") == (1, 1)  # A
        # MS led C first and returned it; it leads nothing now and missed the whistle.
        assert ms["cases"] == 0
        assert ms["response_rate"] is None
        assert ms["return_rate"] == 1.0
        assert ms["whistle_attendance_rate"] == 0.0
        assert report["overall"]["cases"] == 3
        csv = await client.get(
            "/kpis", params={"from": "2026-03-02", "to": "2026-03-02", "format": "csv"}
        )
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("group,cases,response_rate,")
        ranking = (
            await client.get(
                "/rankings", params={"from": "2026-03-02", "to": "2026-03-02", "by": "return_rate"}
            )
        ).json()
        assert [(r["rank"], r["group"]) for r in ranking["rows"]] == [
            (1, "urban-management"),
            (2, "market-supervision"),
        ]
        bad = await client.get("/kpis", params={"from": "2026-03-05", "to": "2026-03-01"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "to"
        bad_group = await client.get(
            "/kpis", params={"from": "2026-03-01", "to": "2026-03-02", "group_by": "street"}
        )
        assert bad_group.status_code == 422
        assert bad_group.json()["errors"][0]["field"] == "group_by"
        ledger = (await client.get("/ledgers", params={"department": "urban-management"})).json()
        assert ledger["lines"] == [
            {
                "department": "urban-management",
                "township": TOWNSHIP,
                "open": 2,  # B, reopened, and C
                "overdue": 1,  # C
                "resolved": 0,
                "closed": 1,  # A
            }
        ]
        daily = (await client.get("/reports/daily", params={"day": "2026-03-02"})).json()
        um_day = next(line for line in daily["lines"] if line["department"] == "urban-management")
        assert (um_day["received"], um_day["resolved"], um_day["returned"]) == (3, 2, 1)
        today = (await client.get("/reports/daily", params={"day": "2026-03-04"})).json()
        um_today = next(x for x in today["lines"] if x["department"] == "urban-management")
        assert (um_today["received"], um_today["closed"], um_today["open"]) == (0, 1, 2)
        future = await client.get("/reports/daily", params={"day": "2999-01-01"})
        assert future.status_code == 422
        assert future.json()["errors"][0]["field"] == "day"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            metrics = (await client.get("/metrics")).text
            if (
                'yiwang_oversight_cases_overdue{department="urban-management",township="140399001"} 1.0'
                in metrics
            ):
                break
            await asyncio.sleep(0.5)
        assert (
            'yiwang_oversight_cases_overdue{department="urban-management",township="140399001"} 1.0'
            in metrics
        )
        assert (
            'yiwang_oversight_department_kpi_ratio{department="urban-management",kpi="satisfaction_rate"} 0.5'
            in metrics
        )
        assert (
            'yiwang_oversight_township_kpi_ratio{kpi="return_rate",township="140399001"}' in metrics
        )
        assert (
            'yiwang_oversight_department_kpi_ratio{department="urban-management",kpi="rehandling_rate"} 0.5'
            in metrics
        )


async def test_bad_parameters_are_422_naming_the_field(oversight: ServiceProcess) -> None:
    bad: list[tuple[str, dict[str, str], str]] = [
        ("/cases", {"from": "0001-01-01"}, "from"),
        ("/cases", {"to": "0001-01-01"}, "to"),
        ("/cases", {"offset": "100001"}, "offset"),
        ("/cases", {"limit": "501"}, "limit"),
        ("/kpis", {"from": "0001-01-01", "to": "2026-03-01"}, "from"),
        ("/kpis", {"from": "2026-03-01", "to": "9999-12-31"}, "to"),
        ("/rankings", {"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ("/reports/daily", {"day": "0001-01-01"}, "day"),
        ("/reports/daily", {"day": "2101-01-01"}, "day"),
        ("/ledgers", {"department": "nowhere"}, "department"),
    ]
    async with as_user(oversight.url, "auditor") as client:
        for path, params, field in bad:
            response = await client.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["errors"][0]["field"] == field, (path, params)
    async with as_user(oversight.url, "hotline_operator") as operator:
        old = {"reached": True, "called_at": "0001-01-01T00:00:00+00:00"}
        response = await operator.post(f"/cases/{A}/follow-up-calls", json=old)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "called_at"


async def test_a_malformed_event_goes_to_the_dead_letter_topic(
    oversight: ServiceProcess, kafka: str
) -> None:
    producer = EventProducer(bootstrap_servers=kafka, client_id="oversight-test")
    await producer.start()
    try:
        await producer.send_records(
            [
                KafkaRecord(
                    PREFIX + CASE_LIFECYCLE,
                    b"x",
                    b'{"case_id": "x", "to_state": "nowhere"}',
                    [
                        (k, v.encode())
                        for k, v in {
                            "ce_specversion": "1.0",
                            "ce_id": uuid.uuid4().hex,
                            "ce_source": "/test",
                            "ce_type": "yiwang.case.state-changed.v1",
                        }.items()
                    ],
                )
            ]
        )
    finally:
        await producer.stop()
    dead = await read_topic(
        kafka, PREFIX + CASE_LIFECYCLE + ".dlq", expect=1, within=20, settle=0.2
    )
    assert len(dead) == 1
    assert dict(dead[0].headers)["dlq_service"] == b"oversight"
