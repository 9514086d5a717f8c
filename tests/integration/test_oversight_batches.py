"""Oversight takes a poll's events in one transaction (set-based SQL on PostgreSQL): the
same events, shuffled, redelivered and cut into polls of any size, leave exactly what
taking them one at a time leaves: cases, timers, alerts, attendance rows, evaluation
tokens, timeline and inbox."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from support import service_schemas
from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseRouted,
    CaseStateChanged,
    HandlingTier,
    MediationProgressed,
    MicroGridRef,
    RulingMade,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.postgres import open_pool
from yiwang.common.states import CaseState as S
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork
from yiwang.oversight.app import DEFINITION
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.handlers.projection import record_event, record_events

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
POLICY = OversightPolicy()
UM = Department.URBAN_MANAGEMENT
EM = Department.EMERGENCY_MANAGEMENT


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def change(case_id: str, minutes: float, src: S | None, dst: S, **kw: Any) -> Envelope[Any]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor=kw.pop("actor", "x"),
            at=at(minutes),
            category="sanitation",
            channel=Channel.HOTLINE,
            priority=Priority.NORMAL,
            **kw,
        ),
        source="/t",
    )


def routed(case_id: str, minutes: float, lead: Department) -> Envelope[Any]:
    return Envelope(
        payload=CaseRouted(
            case_id=case_id,
            case=CaseFacts(
                case_id=case_id,
                case_number=f"LZ-{case_id}",
                category="sanitation",
                title="垃圾",
                description="垃圾未清运",
                channel=Channel.HOTLINE,
                priority=Priority.NORMAL,
                location=Location(address="东城街道 7 号"),
                received_at=at(0),
            ),
            micro_grid=MicroGridRef(
                code="mg-7",
                name="7",
                grid_code="g-1",
                community_code="c-1",
                township_code="tw-east",
                county_code="cty",
            ),
            lead_department=lead,
            tier=HandlingTier.TOWNSHIP,
            sla_class="general",
            rule_id="r1",
            reason="matrix",
        ),
        source="/t",
        time=at(minutes),
    )


def story(case_id: str, kind: int) -> list[Envelope[Any]]:
    """One case's events: resolved; bounced twice and ruled; whistled; or mediated."""
    events = [change(case_id, 0, None, S.RECEIVED), routed(case_id, 1, UM)]
    events.append(change(case_id, 1, S.RECEIVED, S.ROUTED, department=UM))
    events.append(change(case_id, 2, S.ROUTED, S.DISPATCHED, department=UM))
    if kind == 0:
        events += [
            change(case_id, 3, S.DISPATCHED, S.ACKNOWLEDGED, department=UM),
            change(case_id, 4, S.ACKNOWLEDGED, S.IN_PROGRESS, department=UM),
            change(case_id, 5, S.IN_PROGRESS, S.RESOLVED, department=UM, actor="um-staff"),
        ]
    elif kind == 1:
        events += [
            change(case_id, 3, S.DISPATCHED, S.RETURNED, department=UM),
            change(case_id, 4, S.RETURNED, S.ROUTED, department=EM),
            change(case_id, 5, S.ROUTED, S.DISPATCHED, department=EM),
            change(case_id, 6, S.DISPATCHED, S.RETURNED, department=EM),
            Envelope(
                payload=RulingMade(
                    case_id=case_id,
                    ruling_id=f"r-{case_id}",
                    department=UM,
                    reason="主责",
                    ruled_by="hub",
                    ruled_at=at(7),
                    returned_by=(UM, EM),
                ),
                source="/t",
            ),
        ]
    elif kind == 2:
        whistle = f"w-{case_id}"
        events += [
            Envelope(
                payload=WhistleBlown(
                    case_id=case_id,
                    whistle_id=whistle,
                    township_code="tw-east",
                    departments=(UM, EM),
                    report_by=at(60),
                    reason="联合执法",
                ),
                source="/t",
                time=at(3),
            ),
            Envelope(
                payload=WhistleAttendanceRecorded(
                    case_id=case_id,
                    whistle_id=whistle,
                    township_code="tw-east",
                    department=EM,
                    reported_at=at(30),
                    on_time=True,
                ),
                source="/t",
                time=at(30),
            ),
        ]
    else:
        events += [
            Envelope(
                payload=MediationProgressed(
                    case_id=case_id, mediation_id=f"m-{case_id}", level="grid", step="opened"
                ),
                source="/t",
                time=at(3),
            )
        ]
    return events


@pytest.fixture
async def schemas(database_url: str) -> AsyncIterator[tuple[str, ...]]:
    async with service_schemas(database_url, DEFINITION) as names:
        yield names


async def what_is_left(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    queries = {
        "cases": "SELECT * FROM cases ORDER BY case_id",
        "timers": "SELECT case_id, clock, stage, deadline, due_at FROM timers"
        " WHERE fired_at IS NULL ORDER BY 1, 2, 3, 4",
        # An alert tells what was true when it was raised (the lead when a case bounced):
        # which alerts, not their wording, is the same for any order.
        "alerts": "SELECT alert_id, kind FROM alerts ORDER BY 1",
        "whistle_calls": "SELECT * FROM whistle_calls ORDER BY 1, 2",
        "tokens": "SELECT case_id, resolved_at, expires_at FROM evaluation_tokens ORDER BY 1",
        "timeline": "SELECT entry_id, case_id, at, kind, attrs FROM timeline ORDER BY 1",
        "inbox": "SELECT event_id FROM inbox ORDER BY 1",
        "outbox": "SELECT topic, count(*) FROM outbox GROUP BY 1 ORDER BY 1",
    }
    left = {name: [dict(r) for r in await pool.fetch(sql)] for name, sql in queries.items()}
    for row in left["cases"]:
        row.pop("updated_at", None)
    return left


async def test_a_poll_at_once_leaves_what_one_at_a_time_leaves(
    database_url: str, schemas: tuple[str, ...]
) -> None:
    rng = random.Random(18)
    events = [e for n in range(24) for e in story(f"c{n:02d}", n % 4)]
    clock = ManualClock(at(90))
    one_schema, batch_schema = schemas
    one_pool = await open_pool(dsn=database_url, schema=one_schema, application_name="t-one")
    batch_pool = await open_pool(dsn=database_url, schema=batch_schema, application_name="t-b")
    try:

        def uow(pool: asyncpg.Pool) -> PostgresOversightUnitOfWork:
            return PostgresOversightUnitOfWork(pool, source="/yiwang/oversight", clock=clock)

        for envelope in events:
            assert await record_event(
                uow=uow(one_pool), envelope=envelope, now=clock.now(), policy=POLICY
            )

        # Shuffled, a tenth delivered twice, in polls of 1 to 60 records.
        taken = 0
        polls: list[list[Envelope[Any]]] = []
        rest = events + rng.sample(events, len(events) // 10)
        rng.shuffle(rest)
        while rest:
            size = rng.randint(1, 60)
            polls.append(rest[:size])
            rest = rest[size:]
        for poll in polls:
            taken += await record_events(
                uow=uow(batch_pool), envelopes=poll, now=clock.now(), policy=POLICY
            )
        assert taken == len(events)  # each event once, however often it came

        one, batched = await what_is_left(one_pool), await what_is_left(batch_pool)
        assert len(one["cases"]) == 24
        assert any(a["kind"] == "bounced" for a in one["alerts"])
        assert len(one["whistle_calls"]) == 12
        assert len(one["tokens"]) == 6
        for table in one:
            assert batched[table] == one[table], table
    finally:
        await one_pool.close()
        await batch_pool.close()
