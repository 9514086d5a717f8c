"""Handlers with fakes that subclass the real interfaces: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, CaseStateChanged, OversightAlertRaised
from yiwang.common.states import CaseState as S
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.adapters.repository import DueTimer, FollowUpCall, OversightRepository
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.escalation import TimerSpec
from yiwang.oversight.domain.evaluation import CaseNotFound, CaseNotResolved
from yiwang.oversight.domain.projection import CaseProjection, TimelineEntry
from yiwang.oversight.entrypoints.background import jobs, timer_sweep
from yiwang.oversight.handlers.evaluations import evaluate_case
from yiwang.oversight.handlers.projection import record_state_change
from yiwang.oversight.handlers.timers import fire_due_timers

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class FakeRepository(OversightRepository):
    def __init__(self) -> None:
        self.entries: dict[str, TimelineEntry] = {}
        self.cases: dict[str, CaseProjection] = {}
        self.timers: dict[tuple[str, str, str, datetime], TimerSpec] = {}
        self.fired: set[tuple[str, str, str, datetime]] = set()
        self.alerts: dict[str, OversightAlertRaised] = {}
        self.evaluations: dict[str, CaseEvaluated] = {}

    async def lock_case(self, case_id: str) -> None:
        return None

    async def try_lock_case(self, case_id: str) -> bool:
        return True

    async def add_entry(self, entry: TimelineEntry) -> bool:
        return self.entries.setdefault(entry.entry_id, entry) is entry

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        return [e for e in self.entries.values() if e.case_id == case_id]

    async def save_case(self, case: CaseProjection) -> None:
        self.cases[case.case_id] = case

    async def sync_timers(self, case_id: str, wanted: list[TimerSpec]) -> None:
        keys = {t.key for t in wanted}
        for key in [
            k for k in self.timers if k[0] == case_id and k not in keys and k not in self.fired
        ]:
            del self.timers[key]
        for timer in wanted:
            self.timers.setdefault(timer.key, timer)

    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        due = [t for k, t in self.timers.items() if k not in self.fired and t.due_at <= now]
        return [DueTimer(hash(t.key), t) for t in sorted(due, key=lambda t: t.due_at)[:limit]]

    async def mark_fired(self, timer_id: int, *, now: datetime, by: str, outcome: str) -> None:
        self.fired |= {k for k in self.timers if hash(k) == timer_id}

    async def add_alert(
        self, alert: OversightAlertRaised, *, township_code: str | None, raised_at: datetime
    ) -> bool:
        return self.alerts.setdefault(alert.alert_id, alert) is alert

    async def add_evaluation(
        self, evaluation: CaseEvaluated, *, source: str, evaluated_at: datetime
    ) -> bool:
        return self.evaluations.setdefault(evaluation.evaluation_id, evaluation) is evaluation

    async def add_follow_up_call(self, call: FollowUpCall) -> bool:
        return True

    async def record_whistle_call(
        self, *, whistle_id: str, department: str, case_id: str, **facts: Any
    ) -> None:
        return None


class FakeUnitOfWork(InMemoryUnitOfWork, OversightUnitOfWork):
    def __init__(self, repository: FakeRepository) -> None:
        super().__init__()
        self._repository = repository

    @property
    def repository(self) -> OversightRepository:
        return self._repository


def change(case_id: str, minutes: int, src: S | None, dst: S) -> Envelope[CaseStateChanged]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor="x",
            at=T0 + timedelta(minutes=minutes),
        ),
        source="/t",
    )


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository())


async def test_a_redelivered_event_changes_nothing(uow: FakeUnitOfWork) -> None:
    event = change("c1", 0, None, S.RECEIVED)
    assert await record_state_change(uow=uow, envelope=event, now=T0)
    assert not await record_state_change(uow=uow, envelope=event, now=T0)
    assert len(uow.repository.entries) == 1  # type: ignore[attr-defined]


async def test_evaluations_are_refused_for_unknown_and_unresolved_cases(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(CaseNotFound):
        await evaluate_case(
            uow=uow, evaluation=CaseEvaluated(case_id="nope", evaluation_id="e1", score=3), now=T0
        )
    await record_state_change(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0)
    with pytest.raises(CaseNotResolved, match="in state 'received'"):
        await evaluate_case(
            uow=uow, evaluation=CaseEvaluated(case_id="c1", evaluation_id="e1", score=3), now=T0
        )
    assert uow.committed == []


async def test_an_evaluation_moves_a_resolved_case_to_evaluated(uow: FakeUnitOfWork) -> None:
    await record_state_change(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0)
    await record_state_change(uow=uow, envelope=change("c1", 9, S.RECEIVED, S.RESOLVED), now=T0)
    case = await evaluate_case(
        uow=uow,
        evaluation=CaseEvaluated(case_id="c1", evaluation_id="e1", score=4),
        now=T0 + timedelta(hours=1),
    )
    assert case.state is S.EVALUATED
    assert case.score == 4
    [(topic, event)] = uow.committed
    assert topic == "case.lifecycle.v1"
    assert isinstance(event, CaseStateChanged)
    assert (event.from_state, event.to_state) == (S.RESOLVED, S.EVALUATED)


async def test_the_timer_sweep_raises_each_alert_once(uow: FakeUnitOfWork) -> None:
    await record_state_change(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0)
    later = T0 + timedelta(days=60)
    first = await fire_due_timers(uow=uow, now=later, replica="r")
    assert first == 9  # two ladders of four, and stagnant
    assert await fire_due_timers(uow=uow, now=later, replica="r") == 0
    kinds = sorted(e.kind.value for _, e in uow.committed if isinstance(e, OversightAlertRaised))
    assert kinds == ["red_card"] * 4 + [
        "stagnant",
        "warning",
        "warning",
        "yellow_card",
        "yellow_card",
    ]


def fired_total() -> float:
    value = REGISTRY.get_sample_value("yiwang_oversight_timers_fired_total", {"outcome": "alerted"})
    return value or 0.0


async def test_the_sla_timer_tick_counts_what_it_fired(uow: FakeUnitOfWork) -> None:
    await record_state_change(uow=uow, envelope=change("c1", 0, None, S.RECEIVED), now=T0)
    tick = timer_sweep(uow=lambda: uow, clock=ManualClock(T0 + timedelta(days=60)), replica="r")
    before = fired_total()
    assert await tick() == 9  # truthy: the job sweeps again at once
    assert await tick() == 0  # nothing left: it waits for the next round
    assert fired_total() - before == 9


def test_the_background_jobs_are_named_for_the_supervisor(uow: FakeUnitOfWork) -> None:
    def no_reader() -> OversightReader:
        raise AssertionError("not called while wiring")

    wired = jobs(
        settings=OversightSettings(), uow=lambda: uow, reader=no_reader, clock=ManualClock(T0)
    )
    assert [job.name for job in wired] == ["sla-timers", "kpi-gauges"]
