"""The escalation ladder: warning, yellow card, red card (county), red card (city)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from yiwang.common.case import Channel, Priority
from yiwang.common.events import AlertKind, CommandLevel
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain.escalation import (
    STAGE_ALERTS,
    SlaClock,
    Stage,
    ladder,
    timers_for,
)
from yiwang.oversight.domain.projection import EntryKind, TimelineEntry, fold

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_the_ladder_climbs_the_four_level_command() -> None:
    rungs = ladder(
        case_id="c", clock=SlaClock.RESPONSE, started_at=T0, deadline=T0 + timedelta(hours=10)
    )
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


def entry(n: int, hours: float, dst: S) -> TimelineEntry:
    return TimelineEntry(
        entry_id=f"e{n}",
        case_id="c",
        at=T0 + timedelta(hours=hours),
        kind=EntryKind.STATE_CHANGED,
        actor="x",
        to_state=dst,
        attrs={
            "category": "gas-leak",
            "priority": Priority.NORMAL.value,
            "channel": Channel.HOTLINE.value,
        },
    )


def test_signing_for_a_case_stops_its_response_ladder_and_resolving_stops_all() -> None:
    received = fold("c", [entry(1, 0, S.RECEIVED)])
    clocks = {t.clock for t in timers_for(received)}
    assert clocks == {SlaClock.RESPONSE, SlaClock.RESOLUTION, SlaClock.ACTIVITY}
    signed = fold("c", [entry(1, 0, S.RECEIVED), entry(2, 0.5, S.ACKNOWLEDGED)])
    assert {t.clock for t in timers_for(signed)} == {SlaClock.RESOLUTION, SlaClock.ACTIVITY}
    # gas leak: an emergency, due 2 h after receipt
    yellow = next(t for t in timers_for(signed) if t.stage is Stage.YELLOW_CARD)
    assert yellow.due_at == T0 + timedelta(hours=2)
    resolved = fold(
        "c", [entry(1, 0, S.RECEIVED), entry(2, 0.5, S.ACKNOWLEDGED), entry(3, 1, S.RESOLVED)]
    )
    assert timers_for(resolved) == []
    assert not resolved.overdue_at(T0 + timedelta(days=30))
    assert signed.overdue_at(T0 + timedelta(hours=2))
    assert not signed.overdue_at(T0 + timedelta(hours=1))
