"""Evaluations end cases (fakes subclassing the real interfaces, no I/O): closed after a
satisfied evaluation, reopened for re-handling (不满意重办) once to the department and once
to the hub, closed without evaluation by the close timer (未评价), held by mediation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from oversight_fakes import POLICY, T0, FakeRepository, FakeUnitOfWork, change, routed
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseEvaluated,
    CaseReopened,
    CaseStateChanged,
    EvaluationInvited,
    Event,
)
from yiwang.common.states import CaseState as S
from yiwang.oversight.domain.evaluation import CaseClosed, CaseNotFound, CaseNotResolved
from yiwang.oversight.domain.projection import CaseProjection, EntryKind
from yiwang.oversight.handlers.evaluations import evaluate_case, take_evaluation
from yiwang.oversight.handlers.projection import record_event
from yiwang.oversight.handlers.timers import fire_due_timers

MS, CG = Department.MARKET_SUPERVISION, Department.COMPREHENSIVE_GOVERNANCE
LATER = T0 + timedelta(days=1)  # Tuesday 3 March, 09:00 in Shanghai


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository())


async def resolved_case(
    uow: FakeUnitOfWork, case_id: str = "c1", *, by: str = "market-supervision"
) -> None:
    routing = routed(case_id, 0, MS, received_at=T0)
    await record_event(uow=uow, envelope=routing, now=T0, policy=POLICY)
    story = [
        change(case_id, 0, None, S.RECEIVED, actor="intake"),
        change(case_id, 1, S.RECEIVED, S.ROUTED, department=MS),
        change(case_id, 2, S.ROUTED, S.DISPATCHED, department=MS),
        change(case_id, 30, S.DISPATCHED, S.ACKNOWLEDGED, department=MS),
        change(case_id, 300, S.ACKNOWLEDGED, S.RESOLVED, actor=by, department=MS),
    ]
    for envelope in story:
        await record_event(uow=uow, envelope=envelope, now=T0, policy=POLICY)


OPERATOR = "person:hotline_operator"


async def evaluate(
    uow: FakeUnitOfWork, score: int, *, at: datetime = LATER, case_id: str = "c1", n: int = 1
) -> CaseProjection:
    """A hotline operator records the evaluation (no token needed): the closing rules are
    the same for a resident's (test_evaluation_tokens.py)."""
    evaluation = CaseEvaluated(case_id=case_id, evaluation_id=f"ev-{n}", score=score)
    return await evaluate_case(
        uow=uow, evaluation=evaluation, now=at, policy=POLICY, operator=OPERATOR
    )


def emitted(uow: FakeUnitOfWork, topic: str) -> list[Event]:
    return [event for t, event in uow.committed if t == topic]


def steps(uow: FakeUnitOfWork) -> list[tuple[S | None, S, str | None]]:
    return [
        (e.from_state, e.to_state, e.note)
        for e in emitted(uow, "case.lifecycle.v1")
        if isinstance(e, CaseStateChanged)
    ]


async def test_evaluations_are_refused_for_unknown_unresolved_and_closed_cases(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(CaseNotFound):
        await evaluate(uow, 3, case_id="nope")
    await record_event(uow=uow, envelope=change("c0", 0, None, S.RECEIVED), now=T0, policy=POLICY)
    with pytest.raises(CaseNotResolved, match="in state 'received'"):
        await evaluate(uow, 3, case_id="c0")
    await resolved_case(uow)
    await evaluate(uow, 5)
    with pytest.raises(CaseClosed, match="is closed; it can no longer be evaluated"):
        await evaluate(uow, 5, n=2)
    assert len(uow.repository.evaluations) == 1


async def test_a_satisfied_evaluation_closes_the_case_at_once(uow: FakeUnitOfWork) -> None:
    await resolved_case(uow)
    case = await evaluate(uow, 3)
    assert (case.state, case.score, case.closed_at) == (S.CLOSED, 3, LATER)
    assert case.closed_after_evaluation is True
    assert steps(uow) == [
        (S.RESOLVED, S.EVALUATED, "satisfaction 3/5"),
        (S.EVALUATED, S.CLOSED, "closed after evaluation"),
    ]
    # The operator who recorded it is the actor, on the wire and on the timeline.
    changes = [e for e in emitted(uow, "case.lifecycle.v1") if isinstance(e, CaseStateChanged)]
    assert changes[0].actor == OPERATOR
    [entry] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.EVALUATED]
    assert entry.actor == OPERATOR
    assert uow.repository.recorded_by == {"ev-1": OPERATOR}
    assert emitted(uow, "case.reopened.v1") == []
    assert uow.repository.timers == {}  # nothing runs on a closed case


async def test_the_evaluation_topic_goes_through_the_same_rules(uow: FakeUnitOfWork) -> None:
    await resolved_case(uow)
    [invited] = emitted(uow, "oversight.invitations.v1")
    assert isinstance(invited, EvaluationInvited)
    envelope = Envelope(
        payload=CaseEvaluated(case_id="c1", evaluation_id="ev-t", score=4, token=invited.token),
        source="/t",
    )
    assert await take_evaluation(uow=uow, envelope=envelope, now=LATER, policy=POLICY)
    assert not await take_evaluation(uow=uow, envelope=envelope, now=LATER, policy=POLICY)
    assert uow.repository.cases["c1"].state is S.CLOSED
    assert [to for _, to, _ in steps(uow)] == [S.EVALUATED, S.CLOSED]


async def test_unsatisfied_reopens_to_the_department_then_the_hub_then_closes(
    uow: FakeUnitOfWork,
) -> None:
    await resolved_case(uow)
    case = await evaluate(uow, 2)
    [first] = emitted(uow, "case.reopened.v1")
    assert isinstance(first, CaseReopened)
    assert (first.department, first.to_hub, first.rehandling) == (MS, False, 1)
    assert (first.reopened_at, first.evaluation_id) == (LATER, "ev-1")
    # Still evaluated until dispatch dispatches it again, but open, and both clocks restart
    # at the reopening: nothing is signed for or resolved in this handling yet.
    assert (case.state, case.is_open, case.awaiting_rehandling) == (S.EVALUATED, True, True)
    assert (case.responded_at, case.resolved_at, case.clock_started_at) == (None, None, LATER)
    assert case.deadlines is not None
    assert case.deadlines.started_at == LATER
    assert case.deadlines.resolution_due > LATER + timedelta(days=7)
    [reopened] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.REOPENED]
    assert (reopened.at, reopened.attrs["rehandling"], reopened.attrs["to_hub"]) == (
        LATER,
        1,
        False,
    )

    # Dispatch re-handles it; the department resolves it again; still unsatisfied.
    second_round = [
        change("c1", 1500, S.EVALUATED, S.DISPATCHED, department=MS),
        change("c1", 1600, S.DISPATCHED, S.ACKNOWLEDGED, department=MS),
        change("c1", 1700, S.ACKNOWLEDGED, S.RESOLVED, actor="market-supervision"),
    ]
    for envelope in second_round:
        await record_event(uow=uow, envelope=envelope, now=LATER, policy=POLICY)
    assert uow.repository.cases["c1"].responded_at == T0 + timedelta(minutes=1600)
    await evaluate(uow, 1, at=T0 + timedelta(days=2), n=2)
    second = emitted(uow, "case.reopened.v1")[-1]
    assert isinstance(second, CaseReopened)
    assert (second.department, second.to_hub, second.rehandling) == (None, True, 2)
    case = uow.repository.cases["c1"]
    assert (case.lead_department, case.rehandled_to_hub, case.rehandling) == (CG, True, 2)

    # The hub handles it; unsatisfied again: its handling stands and the case closes.
    for envelope in [
        change("c1", 3000, S.EVALUATED, S.DISPATCHED, department=CG),
        change("c1", 3100, S.DISPATCHED, S.RESOLVED, actor="comprehensive-governance"),
    ]:
        await record_event(uow=uow, envelope=envelope, now=LATER, policy=POLICY)
    case = await evaluate(uow, 2, at=T0 + timedelta(days=4), n=3)
    assert case.state is S.CLOSED
    assert len(emitted(uow, "case.reopened.v1")) == 2
    assert "hub" in (steps(uow)[-1][2] or "")


async def test_a_mediated_agreement_is_evaluated_but_not_closed_or_reopened(
    uow: FakeUnitOfWork,
) -> None:
    await resolved_case(uow, by="mediation")
    assert [t.stage.value for t in uow.repository.timers.values()] == []  # no close timer
    case = await evaluate(uow, 1)
    assert (case.state, case.score, case.mediation_held) == (S.EVALUATED, 1, True)
    assert emitted(uow, "case.reopened.v1") == []
    assert [to for _, to, _ in steps(uow)] == [S.EVALUATED]


async def test_a_resolved_case_nobody_evaluates_closes_after_three_working_days(
    uow: FakeUnitOfWork,
) -> None:
    await resolved_case(uow)  # resolved Monday 2 March, 14:00 in Shanghai
    thursday_night = datetime(2026, 3, 5, 15, 59, tzinfo=UTC)
    early = await fire_due_timers(uow=uow, now=thursday_night, replica="r", policy=POLICY)
    assert early.closed == 0
    due = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)  # the end of Thursday 5 March
    fired = await fire_due_timers(uow=uow, now=due, replica="r", policy=POLICY)
    assert fired.closed == 1
    case = uow.repository.cases["c1"]
    assert (case.state, case.score, case.closed_after_evaluation) == (S.CLOSED, None, False)
    assert steps(uow) == [(S.RESOLVED, S.CLOSED, "closed without evaluation (未评价)")]
    assert "closed" in uow.repository.fired.values()
    with pytest.raises(CaseClosed):
        await evaluate(uow, 5, at=due)
    again = await fire_due_timers(uow=uow, now=due + timedelta(days=9), replica="r", policy=POLICY)
    assert again.closed == 0


async def test_an_evaluation_in_time_stops_the_close_timer(uow: FakeUnitOfWork) -> None:
    await resolved_case(uow)
    await evaluate(uow, 1)  # reopened: its clocks run again, no close timer
    fired = await fire_due_timers(
        uow=uow, now=datetime(2026, 3, 6, tzinfo=UTC), replica="r", policy=POLICY
    )
    assert fired.closed == 0
    assert uow.repository.cases["c1"].state is S.EVALUATED
