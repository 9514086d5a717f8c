"""The timers a case needs: the escalation ladder (warning, yellow card, red card county,
red card city) on the one SLA policy's deadlines, stagnant, stranded and closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from yiwang.common.case import Channel, Priority
from yiwang.common.events import AlertKind, CommandLevel
from yiwang.common.sla import ESCALATION_STEP, WARNING_AT
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain.escalation import (
    STAGE_ALERTS,
    BadPolicy,
    OversightPolicy,
    SlaClock,
    Stage,
    TimerSpec,
    describe_timer,
    ladder,
    timers_for,
)
from yiwang.oversight.domain.projection import EntryKind, TimelineEntry, fold

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
POLICY = OversightPolicy()


def test_the_ladder_climbs_the_four_level_command() -> None:
    rungs = ladder(
        case_id="c", clock=SlaClock.RESPONSE, started_at=T0, deadline=T0 + timedelta(hours=10)
    )
    assert (WARNING_AT, ESCALATION_STEP) == (0.8, 0.5)
    assert [(t.stage, t.due_at - T0) for t in rungs] == [
        (Stage.WARNING, timedelta(hours=8)),
        (Stage.YELLOW_CARD, timedelta(hours=10)),
        (Stage.RED_CARD, timedelta(hours=15)),
        (Stage.RED_CARD_CITY, timedelta(hours=20)),
    ]
    assert [STAGE_ALERTS[t.stage] for t in rungs] == [
        (AlertKind.WARNING, CommandLevel.COMMUNITY),
        (AlertKind.YELLOW_CARD, CommandLevel.TOWNSHIP),
        (AlertKind.RED_CARD, CommandLevel.COUNTY),
        (AlertKind.RED_CARD, CommandLevel.CITY),
    ]
    assert STAGE_ALERTS[Stage.STAGNANT] == (AlertKind.STAGNANT, CommandLevel.COUNTY)
    assert STAGE_ALERTS[Stage.STRANDED] == (AlertKind.STRANDED, CommandLevel.COUNTY)


def entry(n: int, hours: float, dst: S, category: str = "gas-leak", **attrs: str) -> TimelineEntry:
    return TimelineEntry(
        entry_id=f"e{n}",
        case_id="c",
        at=T0 + timedelta(hours=hours),
        kind=EntryKind.STATE_CHANGED,
        actor=attrs.pop("actor", "x"),
        to_state=dst,
        attrs={
            "category": category,
            "priority": Priority.NORMAL.value,
            "channel": Channel.HOTLINE.value,
            **attrs,
        },
    )


def by_stage(timers: list[TimerSpec], clock: SlaClock) -> dict[Stage, datetime]:
    return {t.stage: t.due_at for t in timers if t.clock is clock}


def test_the_resolution_red_cards_fall_on_the_deadlines_dispatch_gives_each_level() -> None:
    case = fold("c", [entry(1, 0, S.RECEIVED, "sanitation")])
    deadlines = case.deadlines
    assert deadlines is not None
    resolution = by_stage(timers_for(case, policy=POLICY), SlaClock.RESOLUTION)
    assert resolution[Stage.YELLOW_CARD] == deadlines.at_level(0) == deadlines.resolution_due
    assert resolution[Stage.RED_CARD] == deadlines.at_level(1)
    assert resolution[Stage.RED_CARD_CITY] == deadlines.at_level(2)
    span = deadlines.resolution_due - T0
    assert resolution[Stage.WARNING] == T0 + span * WARNING_AT
    response = by_stage(timers_for(case, policy=POLICY), SlaClock.RESPONSE)
    response_span = deadlines.response_due - T0
    assert response[Stage.RED_CARD] == deadlines.response_due + response_span * 0.5


def test_signing_for_a_case_stops_its_response_ladder_and_resolving_stops_all() -> None:
    received = fold("c", [entry(1, 0, S.RECEIVED)])
    clocks = {t.clock for t in timers_for(received, policy=POLICY)}
    assert clocks == {SlaClock.RESPONSE, SlaClock.RESOLUTION, SlaClock.ACTIVITY, SlaClock.HANDOFF}
    signed = fold("c", [entry(1, 0, S.RECEIVED), entry(2, 0.5, S.ACKNOWLEDGED)])
    assert {t.clock for t in timers_for(signed, policy=POLICY)} == {
        SlaClock.RESOLUTION,
        SlaClock.ACTIVITY,
    }
    # gas leak: an emergency, due 2 h after receipt
    yellow = next(t for t in timers_for(signed, policy=POLICY) if t.stage is Stage.YELLOW_CARD)
    assert yellow.due_at == T0 + timedelta(hours=2)
    resolved = fold(
        "c", [entry(1, 0, S.RECEIVED), entry(2, 0.5, S.ACKNOWLEDGED), entry(3, 1, S.RESOLVED)]
    )
    # Only the close timer is left: no SLA clock runs on a resolved case.
    assert [t.stage for t in timers_for(resolved, policy=POLICY)] == [Stage.CLOSE]
    assert not resolved.overdue_at(T0 + timedelta(days=30))
    assert signed.overdue_at(T0 + timedelta(hours=2))
    assert not signed.overdue_at(T0 + timedelta(hours=1))


def test_a_resolved_case_waits_working_days_for_its_evaluation() -> None:
    # Resolved on Friday 13 February 2026 (Shanghai); Sat 14 is a make-up working day,
    # then the Spring Festival holiday to Mon 23: three working days end on Wed 25.
    friday = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
    resolved = fold(
        "c",
        [
            entry(1, (friday - T0).total_seconds() / 3600 - 1, S.RECEIVED),
            entry(2, (friday - T0).total_seconds() / 3600, S.RESOLVED),
        ],
    )
    [close] = [t for t in timers_for(resolved, policy=POLICY) if t.stage is Stage.CLOSE]
    assert close.clock is SlaClock.EVALUATION
    assert close.due_at == datetime(2026, 2, 25, 16, 0, tzinfo=UTC)  # end of Wed 25 Feb
    one_day = OversightPolicy(close_after_working_days=1)
    [sooner] = [t for t in timers_for(resolved, policy=one_day) if t.stage is Stage.CLOSE]
    assert sooner.due_at == datetime(2026, 2, 14, 16, 0, tzinfo=UTC)  # end of Sat 14 Feb


def test_a_case_resolved_by_mediation_gets_no_close_timer() -> None:
    mediated = fold("c", [entry(1, 0, S.RECEIVED), entry(2, 5, S.RESOLVED, actor="mediation")])
    assert mediated.mediation_held
    assert timers_for(mediated, policy=POLICY) == []


def test_a_hand_off_state_gets_one_stranded_timer_per_stay() -> None:
    policy = OversightPolicy(stranded_after=timedelta(minutes=30))
    received = fold("c", [entry(1, 0, S.RECEIVED)])
    [stranded] = [t for t in timers_for(received, policy=policy) if t.clock is SlaClock.HANDOFF]
    assert (stranded.stage, stranded.due_at) == (Stage.STRANDED, T0 + timedelta(minutes=30))
    routed = fold("c", [entry(1, 0, S.RECEIVED), entry(2, 0.1, S.ROUTED)])
    [again] = [t for t in timers_for(routed, policy=policy) if t.clock is SlaClock.HANDOFF]
    assert again.key != stranded.key  # a new stay, a new timer
    dispatched = fold(
        "c", [entry(1, 0, S.RECEIVED), entry(2, 0.1, S.ROUTED), entry(3, 0.2, S.DISPATCHED)]
    )
    assert not [t for t in timers_for(dispatched, policy=policy) if t.clock is SlaClock.HANDOFF]
    returned = fold("c", [entry(1, 0, S.RECEIVED), entry(2, 0.1, S.RETURNED, department="health")])
    reason = describe_timer(
        next(t for t in timers_for(returned, policy=policy) if t.stage is Stage.STRANDED),
        case=returned,
    )
    assert "'returned' since" in reason
    assert "county hub" in reason


def test_a_policy_that_cannot_run_is_refused_naming_the_setting() -> None:
    with pytest.raises(BadPolicy, match="OVERSIGHT_CLOSE_AFTER_WORKING_DAYS"):
        OversightPolicy.of(close_after_working_days=0, stranded_after_minutes=60)
    with pytest.raises(BadPolicy, match="OVERSIGHT_STRANDED_AFTER_MINUTES"):
        OversightPolicy.of(close_after_working_days=3, stranded_after_minutes=0)
    assert OversightPolicy.of(close_after_working_days=3, stranded_after_minutes=60) == POLICY
