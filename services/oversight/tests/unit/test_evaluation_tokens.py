"""Residents' one-time evaluation tokens (fakes subclassing the real interfaces, no I/O):
one per resolution, kept as a hash, valid once until the close timer, refused when
missing, wrong, used or expired; the evaluation topic needs one too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from oversight_fakes import POLICY, T0, FakeRepository, FakeUnitOfWork, change, routed
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, EvaluationInvited
from yiwang.common.states import CaseState as S
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.domain.invitation import EvaluationTokenRefused, token_hash
from yiwang.oversight.domain.projection import CaseProjection, EntryKind
from yiwang.oversight.handlers.evaluations import (
    evaluate_case,
    record_follow_up_call,
    take_evaluation,
)
from yiwang.oversight.handlers.projection import record_event
from yiwang.oversight.handlers.timers import fire_due_timers

MS = Department.MARKET_SUPERVISION
LATER = T0 + timedelta(days=1)  # Tuesday 3 March, 09:00 in Shanghai
CLOSE = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)  # 3 working days after Monday's resolution


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository())


async def resolve(
    uow: FakeUnitOfWork, *, by: str = "market-supervision", now: datetime = T0
) -> None:
    await record_event(
        uow=uow, envelope=routed("c1", 0, MS, received_at=T0), now=now, policy=POLICY
    )
    for envelope in [
        change("c1", 0, None, S.RECEIVED, actor="intake"),
        change("c1", 1, S.RECEIVED, S.ROUTED, department=MS),
        change("c1", 2, S.ROUTED, S.DISPATCHED, department=MS),
        change("c1", 300, S.DISPATCHED, S.RESOLVED, actor=by, department=MS),
    ]:
        await record_event(uow=uow, envelope=envelope, now=now, policy=POLICY)


def invitations(uow: FakeUnitOfWork) -> list[EvaluationInvited]:
    return [e for t, e in uow.committed if t == "oversight.invitations.v1"]  # type: ignore[misc]


async def by_resident(
    uow: FakeUnitOfWork, token: str | None, *, score: int = 5, at: datetime = LATER, n: int = 1
) -> CaseProjection:
    evaluation = CaseEvaluated(
        case_id="c1", evaluation_id=f"ev-{n}", score=score, token=token, comment="很好"
    )
    return await evaluate_case(uow=uow, evaluation=evaluation, now=at, policy=POLICY)


async def test_a_resolved_case_gets_one_token_kept_only_as_its_hash(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    assert invited.case_id == "c1"
    assert invited.expires_at == CLOSE  # when the close timer fires
    assert len(invited.token) >= 43
    [kept] = uow.repository.tokens.values()
    assert kept.token_hash == token_hash(invited.token) != invited.token
    assert (kept.resolved_at, kept.used_at) == (T0 + timedelta(minutes=300), None)
    # Anything else projected on the resolved case issues no second token.
    call = FollowUpCall("k0", "c1", LATER, "person:op", reached=False, satisfied=None, note=None)
    await record_follow_up_call(uow=uow, call=call, now=LATER, policy=POLICY)
    assert len(invitations(uow)) == 1


async def test_the_resident_evaluates_once_with_the_token(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    case = await by_resident(uow, invited.token)
    assert case.state is S.CLOSED
    [entry] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.EVALUATED]
    assert entry.actor == "resident"
    assert uow.repository.recorded_by == {"ev-1": "resident"}
    assert uow.repository.tokens[token_hash(invited.token)].used_at == LATER
    with pytest.raises(EvaluationTokenRefused, match="used already") as refused:
        await by_resident(uow, invited.token, n=2)
    assert (refused.value.status, refused.value.field) == (403, "token")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "token is required"),
        ("x" * 43, "not valid for this case"),
    ],
)
async def test_a_missing_or_wrong_token_is_refused(
    uow: FakeUnitOfWork, token: str | None, reason: str
) -> None:
    await resolve(uow)
    with pytest.raises(EvaluationTokenRefused, match=reason):
        await by_resident(uow, token)
    assert uow.repository.cases["c1"].state is S.RESOLVED
    assert uow.repository.evaluations == {}


async def test_a_token_for_another_case_or_an_unknown_case_is_refused(
    uow: FakeUnitOfWork,
) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    evaluation = CaseEvaluated(case_id="nope", evaluation_id="e", score=5, token=invited.token)
    with pytest.raises(EvaluationTokenRefused, match="not valid for this case"):
        await evaluate_case(uow=uow, evaluation=evaluation, now=LATER, policy=POLICY)


async def test_the_token_expires_with_the_close_timer(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    with pytest.raises(EvaluationTokenRefused, match="expired"):
        await by_resident(uow, invited.token, at=CLOSE)  # the timer has not swept yet
    await fire_due_timers(uow=uow, now=CLOSE, replica="r", policy=POLICY)
    with pytest.raises(EvaluationTokenRefused, match="it is 'closed'"):
        await by_resident(uow, invited.token, at=CLOSE - timedelta(minutes=1))


async def test_a_new_resolution_gets_a_new_token_and_the_old_one_expires(
    uow: FakeUnitOfWork,
) -> None:
    await resolve(uow)
    [first] = invitations(uow)
    await by_resident(uow, first.token, score=1)  # unsatisfied: reopened
    for envelope in [
        change("c1", 1500, S.EVALUATED, S.DISPATCHED, department=MS),
        change("c1", 1600, S.DISPATCHED, S.RESOLVED, actor="market-supervision"),
    ]:
        await record_event(uow=uow, envelope=envelope, now=LATER, policy=POLICY)
    second = invitations(uow)[-1]
    assert len(invitations(uow)) == 2
    assert second.token != first.token
    with pytest.raises(EvaluationTokenRefused, match="used already"):
        await by_resident(uow, first.token, n=2, at=LATER + timedelta(hours=3))
    case = await by_resident(uow, second.token, n=3, at=LATER + timedelta(hours=3))
    assert case.state is S.CLOSED


async def test_no_token_for_a_mediated_agreement_or_an_already_expired_resolution(
    uow: FakeUnitOfWork,
) -> None:
    await resolve(uow, by="mediation")
    assert invitations(uow) == []
    late = FakeUnitOfWork(FakeRepository())
    await resolve(late, now=CLOSE + timedelta(days=1))  # seen after its close timer was due
    assert invitations(late) == []


async def test_the_evaluation_topic_needs_the_token(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    without = Envelope(
        payload=CaseEvaluated(case_id="c1", evaluation_id="t1", score=4), source="/t"
    )
    with pytest.raises(EvaluationTokenRefused, match="required"):
        await take_evaluation(uow=uow, envelope=without, now=LATER, policy=POLICY)
    wrong = Envelope(
        payload=CaseEvaluated(case_id="c1", evaluation_id="t2", score=4, token="y" * 43),
        source="/t",
    )
    with pytest.raises(EvaluationTokenRefused, match="not valid"):
        await take_evaluation(uow=uow, envelope=wrong, now=LATER, policy=POLICY)
    right = Envelope(
        payload=CaseEvaluated(case_id="c1", evaluation_id="t3", score=4, token=invited.token),
        source="/t",
    )
    assert await take_evaluation(uow=uow, envelope=right, now=LATER, policy=POLICY)
    assert uow.repository.cases["c1"].state is S.CLOSED


async def test_an_operator_needs_no_token_but_one_given_is_checked(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    wrong = CaseEvaluated(case_id="c1", evaluation_id="o1", score=4, token="z" * 43)
    with pytest.raises(EvaluationTokenRefused):
        await evaluate_case(
            uow=uow, evaluation=wrong, now=LATER, policy=POLICY, operator="person:op"
        )
    plain = CaseEvaluated(case_id="c1", evaluation_id="o2", score=4)
    case = await evaluate_case(
        uow=uow, evaluation=plain, now=LATER, policy=POLICY, operator="person:op"
    )
    assert case.state is S.CLOSED
    assert uow.repository.recorded_by == {"o2": "person:op"}


async def test_personal_data_in_comments_and_notes_is_scrubbed(uow: FakeUnitOfWork) -> None:
    await resolve(uow)
    [invited] = invitations(uow)
    evaluation = CaseEvaluated(
        case_id="c1",
        evaluation_id="s1",
        score=5,
        token=invited.token,
        comment="请回电 13912345678",
    )
    await evaluate_case(uow=uow, evaluation=evaluation, now=LATER, policy=POLICY)
    assert "13912345678" not in (uow.repository.evaluations["s1"].comment or "")
    call = FollowUpCall(
        call_id="k1",
        case_id="c1",
        called_at=LATER,
        operator="person:op",
        reached=True,
        satisfied=True,
        note="居民手机 139-1234-5678 已接通",
    )
    kept = await record_follow_up_call(uow=uow, call=call, now=LATER, policy=POLICY)
    assert "5678" not in (kept.note or "")
    assert uow.repository.calls["k1"].note == kept.note
    [entry] = [e for e in uow.repository.entries.values() if e.kind is EntryKind.FOLLOW_UP_CALL]
    assert (entry.actor, entry.note) == ("person:op", kept.note)
