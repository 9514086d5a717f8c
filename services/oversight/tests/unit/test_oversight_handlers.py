"""Handlers with fakes that subclass the real interfaces: no I/O. The projection, the
timer sweep (alerts, stranded cases), the hub's rulings and the background jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from oversight_fakes import POLICY, T0, FakeRepository, FakeUnitOfWork, change, routed
from prometheus_client import REGISTRY
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import AlertKind, CommandLevel, OversightAlertRaised, RulingMade
from yiwang.common.states import CaseState as S
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.projection import EntryKind
from yiwang.oversight.entrypoints.background import jobs, timer_sweep
from yiwang.oversight.handlers.projection import record_event
from yiwang.oversight.handlers.timers import fire_due_timers

UM, MS, HEALTH = (
    Department.URBAN_MANAGEMENT,
    Department.MARKET_SUPERVISION,
    Department.HEALTH,
)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository())


def alerts(uow: FakeUnitOfWork) -> list[OversightAlertRaised]:
    return [e for _, e in uow.committed if isinstance(e, OversightAlertRaised)]


async def test_a_redelivered_event_changes_nothing(uow: FakeUnitOfWork) -> None:
    event = change("c1", 0, None, S.RECEIVED)
    assert await record_event(uow=uow, envelope=event, now=T0, policy=POLICY)
    assert not await record_event(uow=uow, envelope=event, now=T0, policy=POLICY)
    assert len(uow.repository.entries) == 1


async def test_the_timer_sweep_raises_each_alert_once(uow: FakeUnitOfWork) -> None:
    await record_event(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0, policy=POLICY)
    later = T0 + timedelta(days=60)
    first = await fire_due_timers(uow=uow, now=later, replica="r", policy=POLICY)
    assert first.alerted == 10  # two ladders of four, stagnant and stranded
    again = await fire_due_timers(uow=uow, now=later, replica="r", policy=POLICY)
    assert again.acted == 0
    kinds = sorted(a.kind.value for a in alerts(uow))
    assert kinds == ["red_card"] * 4 + [
        "stagnant",
        "stranded",
        "warning",
        "warning",
        "yellow_card",
        "yellow_card",
    ]


async def test_a_case_stranded_in_a_hand_off_state_is_flagged_once_per_stay(
    uow: FakeUnitOfWork,
) -> None:
    policy = OversightPolicy(stranded_after=timedelta(minutes=60))
    await record_event(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0, policy=policy)
    early = await fire_due_timers(
        uow=uow, now=T0 + timedelta(minutes=59), replica="r", policy=policy
    )
    assert early.acted == 0
    await fire_due_timers(uow=uow, now=T0 + timedelta(minutes=61), replica="r", policy=policy)
    await fire_due_timers(uow=uow, now=T0 + timedelta(minutes=90), replica="r", policy=policy)
    [stranded] = [a for a in alerts(uow) if a.kind is AlertKind.STRANDED]
    assert stranded.command_level is CommandLevel.COUNTY
    assert "'received' since" in stranded.reason
    # Routed at last: a new stay in a hand-off state, flagged again if it lasts too.
    await record_event(
        uow=uow, envelope=change("c1", 100, S.RECEIVED, S.ROUTED), now=T0, policy=policy
    )
    await fire_due_timers(uow=uow, now=T0 + timedelta(minutes=120), replica="r", policy=policy)
    assert len([a for a in alerts(uow) if a.kind is AlertKind.STRANDED]) == 1
    await fire_due_timers(uow=uow, now=T0 + timedelta(minutes=161), replica="r", policy=policy)
    assert len([a for a in alerts(uow) if a.kind is AlertKind.STRANDED]) == 2
    # Dispatched: nobody is stranded any more.
    await record_event(
        uow=uow, envelope=change("c1", 170, S.ROUTED, S.DISPATCHED), now=T0, policy=policy
    )
    await fire_due_timers(uow=uow, now=T0 + timedelta(days=1), replica="r", policy=policy)
    assert len([a for a in alerts(uow) if a.kind is AlertKind.STRANDED]) == 2


async def test_the_clock_starts_when_intake_received_the_case(uow: FakeUnitOfWork) -> None:
    received = T0 - timedelta(hours=30)  # intake's receipt, well before this routing
    await record_event(
        uow=uow, envelope=routed("c1", 0, UM, received_at=received), now=T0, policy=POLICY
    )
    case = uow.repository.cases["c1"]
    assert case.received_at == case.started_at == case.clock_started_at == received
    assert case.deadlines is not None
    assert case.deadlines.started_at == received
    old = routed("c2", 5, UM)  # an old event without received_at: its own time
    await record_event(uow=uow, envelope=old, now=T0, policy=POLICY)
    assert uow.repository.cases["c2"].started_at == T0 + timedelta(minutes=5)


async def test_the_hubs_ruling_names_the_lead(uow: FakeUnitOfWork) -> None:
    await record_event(uow=uow, envelope=routed("c1", 0, MS), now=T0, policy=POLICY)
    for department, minutes in ((MS, 10), (HEALTH, 30)):
        returned = change("c1", minutes, S.DISPATCHED, S.RETURNED, department=department)
        await record_event(uow=uow, envelope=returned, now=T0, policy=POLICY)
    ruling = Envelope(
        payload=RulingMade(
            case_id="c1",
            ruling_id="ru-1",
            department=MS,
            reason="经营场所食品安全属市场监管职责",
            ruled_by="comprehensive-governance",
            ruled_at=T0 + timedelta(hours=1),
            returned_by=(MS, HEALTH),
        ),
        source="/t",
    )
    assert await record_event(uow=uow, envelope=ruling, now=T0, policy=POLICY)
    assert not await record_event(uow=uow, envelope=ruling, now=T0, policy=POLICY)
    case = uow.repository.cases["c1"]
    assert (case.lead_department, case.ruled) == (MS, True)
    [entry] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.RULING]
    assert (entry.actor, entry.attrs["ruling_id"], entry.attrs["department"]) == (
        "comprehensive-governance",
        "ru-1",
        MS.value,
    )


def fired_total(outcome: str) -> float:
    value = REGISTRY.get_sample_value("yiwang_oversight_timers_fired_total", {"outcome": outcome})
    return value or 0.0


async def test_the_timer_tick_counts_what_it_fired(uow: FakeUnitOfWork) -> None:
    await record_event(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0, policy=POLICY)
    clock = ManualClock(T0 + timedelta(days=60))
    tick = timer_sweep(uow=lambda: uow, clock=clock, replica="r", policy=POLICY)
    before = fired_total("alerted")
    assert await tick() == 10  # truthy: the job sweeps again at once
    assert await tick() == 0  # nothing left: it waits for the next round
    assert fired_total("alerted") - before == 10


def test_the_background_jobs_are_named_for_the_supervisor(uow: FakeUnitOfWork) -> None:
    def no_reader() -> OversightReader:
        raise AssertionError("not called while wiring")

    wired = jobs(
        settings=OversightSettings(),
        uow=lambda: uow,
        reader=no_reader,
        clock=ManualClock(T0),
        policy=POLICY,
    )
    assert [job.name for job in wired] == ["sla-timers", "kpi-gauges"]


def test_the_settings_give_the_policy_and_refuse_what_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = OversightSettings()
    assert (settings.close_after_working_days, settings.stranded_after_minutes) == (3, 60)
    monkeypatch.setenv("OVERSIGHT_CLOSE_AFTER_WORKING_DAYS", "0")
    with pytest.raises(ValueError, match="OVERSIGHT_CLOSE_AFTER_WORKING_DAYS"):
        OversightSettings()
    monkeypatch.setenv("OVERSIGHT_CLOSE_AFTER_WORKING_DAYS", "1")
    monkeypatch.setenv("OVERSIGHT_STRANDED_AFTER_MINUTES", "6000")
    tuned = OversightSettings()
    assert (tuned.close_after_working_days, tuned.stranded_after_minutes) == (1, 6000)
