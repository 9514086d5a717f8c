"""The projection converges whatever the arrival order, and ignores repeats."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseReopened,
    CaseRouted,
    CaseStateChanged,
    HandlingTier,
    MicroGridRef,
    RulingMade,
)
from yiwang.common.sla import deadlines_for, policy_for
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.escalation import (
    OversightPolicy,
    SlaClock,
    Stage,
    is_bounced,
    timers_for,
)
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
    clocks = {(t.clock, t.stage) for t in timers_for(case, policy=OversightPolicy())}
    assert (SlaClock.RESOLUTION, Stage.YELLOW_CARD) in clocks
    assert not any(c is SlaClock.RESPONSE for c, _ in clocks)  # it was signed for


def test_ties_in_event_time_break_the_same_way_in_every_order() -> None:
    same_time = [change(1, 0, None, S.RECEIVED), change(2, 0, S.RECEIVED, S.ROUTED, department=UM)]
    for order in itertools.permutations(same_time):
        assert fold(CASE, order).state is S.ROUTED


def test_the_deadlines_are_the_ones_dispatch_computes_from_the_same_inputs() -> None:
    received = T0 - timedelta(minutes=3)
    facts_routed = entries.from_routing(
        CaseRouted(
            case_id=CASE,
            case=CaseFacts(
                case_id=CASE,
                case_number="LZ-1",
                category="noise",
                title="噪音",
                description="夜间施工",
                channel=Channel.PORTAL,
                priority=Priority.NORMAL,
                location=Location(address="x"),
                received_at=received,
            ),
            micro_grid=None,
            lead_department=UM,
            tier=HandlingTier.TOWNSHIP,
            sla_class="urgent",  # the matrix raises the floor
            rule_id="r1",
            reason="matrix",
        ),
        event_id="r9",
        at=T0 + timedelta(minutes=1),
    )
    case = fold(CASE, [change(1, -3, None, S.RECEIVED), facts_routed])
    expected = deadlines_for(
        policy_for(
            category="noise", priority=Priority.NORMAL, channel=Channel.PORTAL, sla_class="urgent"
        ),
        started_at=received,
    )
    assert case.deadlines == expected
    assert expected.policy == "hotline-urgent"
    assert case.received_at == case.started_at == received


def test_a_reopening_restarts_both_clocks_and_may_hand_the_lead_to_the_hub() -> None:
    evaluated = change(9, 700, S.RESOLVED, S.EVALUATED, department=UM)
    reopened_at = T0 + timedelta(minutes=700)
    reopen = entries.from_reopening(
        CaseReopened(
            case_id=CASE,
            evaluation_id="ev-1",
            department=UM,
            to_hub=False,
            rehandling=1,
            reopened_at=reopened_at,
            reason="unsatisfied",
        )
    )
    case = fold(CASE, [*TIMELINE, evaluated, reopen])
    assert (case.state, case.rehandling, case.awaiting_rehandling) == (S.EVALUATED, 1, True)
    assert (case.responded_at, case.resolved_at) == (None, None)
    assert case.received_at == T0  # the cohort does not move
    assert case.deadlines is not None
    assert case.deadlines.started_at == reopened_at
    assert {t.clock for t in timers_for(case, policy=OversightPolicy())} >= {
        SlaClock.RESPONSE,
        SlaClock.RESOLUTION,
    }
    redispatched = change(10, 710, S.EVALUATED, S.DISPATCHED, department=UM)
    assert fold(CASE, [*TIMELINE, evaluated, reopen, redispatched]).awaiting_rehandling is False
    to_hub = entries.from_reopening(
        CaseReopened(
            case_id=CASE,
            evaluation_id="ev-2",
            department=None,
            to_hub=True,
            rehandling=2,
            reopened_at=reopened_at + timedelta(days=3),
            reason="unsatisfied again",
        )
    )
    hub = fold(CASE, [*TIMELINE, evaluated, reopen, redispatched, to_hub])
    assert (hub.lead_department, hub.rehandled_to_hub) == (
        Department.COMPREHENSIVE_GOVERNANCE,
        True,
    )
    assert hub.lead_history == (MS, UM, Department.COMPREHENSIVE_GOVERNANCE)


def test_how_a_case_was_closed_and_closed_duplicates_stay_duplicates() -> None:
    closed = change(9, 700, S.RESOLVED, S.CLOSED, actor="oversight")
    case = fold(CASE, [*TIMELINE, closed])
    assert (case.state, case.closed_after_evaluation, case.is_open) == (S.CLOSED, False, False)
    evaluated = change(9, 700, S.RESOLVED, S.EVALUATED)
    after = change(10, 700, S.EVALUATED, S.CLOSED, actor="oversight")
    assert fold(CASE, [*TIMELINE, after, evaluated]).closed_after_evaluation is True
    duplicate = fold(
        CASE,
        [
            change(1, 0, None, S.RECEIVED),
            change(2, 1, S.RECEIVED, S.DUPLICATE),
            change(3, 90, S.DUPLICATE, S.CLOSED, actor="intake"),
        ],
    )
    assert (duplicate.state, duplicate.duplicate) == (S.CLOSED, True)


def test_a_ruling_names_the_lead_whatever_routing_said() -> None:
    ruling = entries.from_ruling(
        RulingMade(
            case_id=CASE,
            ruling_id="ru-1",
            department=MS,
            reason="经营场所属市场监管",
            ruled_by="comprehensive-governance",
            ruled_at=T0 + timedelta(minutes=45),
            returned_by=(MS, UM),
        ),
        event_id="ru-e",
    )
    case = fold(CASE, [*TIMELINE[:7], ruling])
    assert (case.lead_department, case.ruled) == (MS, True)
    assert case.last_activity_at == T0 + timedelta(minutes=45)


def test_a_matter_passed_up_from_the_grid_gives_the_department_its_whole_time() -> None:
    """Routing restarts the department's clock at the pass-up (上报), as dispatch reads it:
    the day the matter spent in the grid is not the department's."""
    passed_up_at = T0 + timedelta(days=1)
    in_grid = [
        change(1, 0, None, S.RECEIVED, actor="intake", category="sanitation"),
        change(2, 1, S.RECEIVED, S.IN_GRID, actor="grid-routing"),
    ]
    event = CaseRouted(
        case_id=CASE,
        case=CaseFacts(
            case_id=CASE, case_number="LZ-1", category="sanitation", title="垃圾",
            description="垃圾", channel=Channel.HOTLINE, priority=Priority.NORMAL,
            location=Location(address="x"), received_at=T0,
        ),
        micro_grid=None, lead_department=UM, tier=HandlingTier.TOWNSHIP, sla_class="general",
        rule_id="passed-up/sanitation", reason="passed up", attempt=2,
        clock_restarted_at=passed_up_at,
    )  # fmt: skip
    entry = entries.from_routing(event, event_id="r-up", at=passed_up_at)
    up = change(3, 24 * 60, S.IN_GRID, S.ROUTED, actor="grid-routing", department=UM)
    case = fold(CASE, [*in_grid, entry, up])
    assert case.received_at == T0  # the cohort stays the day of the report
    assert case.clock_started_at == passed_up_at
    assert case.deadlines is not None
    assert case.deadlines.started_at == passed_up_at
