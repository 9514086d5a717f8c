"""The projection converges whatever the arrival order, and ignores repeats."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, CaseStateChanged, HandlingTier, MicroGridRef
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.escalation import SlaClock, Stage, is_bounced, timers_for
from yiwang.oversight.domain.projection import TimelineEntry, fold

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
CASE = "case-p1"


def change(n: int, minutes: int, src: S | None, dst: S, **kw: object) -> TimelineEntry:
    event = CaseStateChanged(
        case_id=CASE,
        from_state=src,
        to_state=dst,
        actor=str(kw.pop("actor", "svc")),
        at=T0 + timedelta(minutes=minutes),
        **kw,  # type: ignore[arg-type]
    )
    return entries.from_state_change(event, event_id=f"e{n}")


def routed(n: int, minutes: int, lead: Department) -> TimelineEntry:
    event = CaseRouted(
        case_id=CASE,
        case=CaseFacts(
            case_id=CASE,
            case_number="LZ-1",
            category="sanitation",
            title="垃圾",
            description="垃圾",
            channel=Channel.HOTLINE,
            priority=Priority.NORMAL,
            location=Location(address="x"),
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
        assisting_departments=(Department.HOUSING,),
        tier=HandlingTier.TOWNSHIP,
        sla_class="normal",
        rule_id="r1",
        reason="matrix",
    )
    return entries.from_routing(event, event_id=f"r{n}", at=T0 + timedelta(minutes=minutes))


UM, MS = Department.URBAN_MANAGEMENT, Department.MARKET_SUPERVISION

TIMELINE = [
    change(1, 0, None, S.RECEIVED, actor="intake", category="sanitation", channel=Channel.HOTLINE),
    routed(1, 1, MS),
    change(2, 1, S.RECEIVED, S.ROUTED, department=MS),
    change(3, 5, S.ROUTED, S.DISPATCHED, department=MS),
    change(4, 30, S.DISPATCHED, S.RETURNED, department=MS, actor="market-supervision"),
    routed(2, 31, UM),
    change(5, 31, S.RETURNED, S.ROUTED, department=UM),
    change(6, 40, S.ROUTED, S.DISPATCHED, department=UM),
    change(7, 60, S.DISPATCHED, S.ACKNOWLEDGED, department=UM),
    change(8, 600, S.ACKNOWLEDGED, S.RESOLVED, department=UM),
]


def test_in_order_the_projection_is_what_happened() -> None:
    case = fold(CASE, TIMELINE)
    assert case.state is S.RESOLVED
    assert case.lead_department is UM
    assert case.lead_history == (MS, UM)
    assert case.returned_by == (MS,)
    assert case.return_count == 1
    assert case.assisting_departments == (Department.HOUSING,)
    assert (case.township_code, case.micro_grid, case.sla_class) == ("tw-east", "mg-7", "normal")
    assert case.received_at == T0
    assert case.responded_at == T0 + timedelta(minutes=60)
    assert case.resolved_at == T0 + timedelta(minutes=600)
    assert case.deadlines is not None
    assert case.deadlines.policy == "hotline-normal"


def test_any_arrival_order_with_repeats_gives_the_same_projection() -> None:
    expected = fold(CASE, TIMELINE)
    rng = random.Random(7)
    for _ in range(50):
        arrived = TIMELINE + rng.sample(TIMELINE, 4)  # some delivered twice
        rng.shuffle(arrived)
        unique = {e.entry_id: e for e in arrived}.values()  # the store keeps each id once
        assert fold(CASE, unique) == expected


def test_routing_seen_before_receipt_is_kept() -> None:
    only_routed = fold(CASE, [TIMELINE[1]])
    assert only_routed.state is None
    assert only_routed.lead_department is MS
    assert only_routed.is_open


def test_two_returns_make_a_bounced_case() -> None:
    second = change(9, 50, S.DISPATCHED, S.RETURNED, department=UM)
    first_seven = TIMELINE[:7]
    assert not is_bounced(fold(CASE, first_seven))
    assert is_bounced(fold(CASE, [*first_seven, second]))


def test_reopening_a_resolved_case_restarts_its_resolution_clock() -> None:
    reopened = change(9, 700, S.RESOLVED, S.IN_PROGRESS, department=UM)
    case = fold(CASE, [*TIMELINE, reopened])
    assert case.resolved_at is None
    assert case.resolution_running
    clocks = {(t.clock, t.stage) for t in timers_for(case)}
    assert (SlaClock.RESOLUTION, Stage.YELLOW_CARD) in clocks
    assert not any(c is SlaClock.RESPONSE for c, _ in clocks)  # it was signed for


def test_ties_in_event_time_break_the_same_way_in_every_order() -> None:
    same_time = [change(1, 0, None, S.RECEIVED), change(2, 0, S.RECEIVED, S.ROUTED, department=UM)]
    for order in itertools.permutations(same_time):
        assert fold(CASE, order).state is S.ROUTED
