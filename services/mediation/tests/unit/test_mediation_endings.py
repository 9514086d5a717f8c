"""How a mediation ends the governance case: declined or withdrawn go back to routing,
an honoured agreement or a referral closes it, a reopened agreement mediates again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mediation_fakes import HUB, FakeMediationUnitOfWork
from test_mediation_domain import NOW
from test_mediation_handlers import POLICY, lifecycle, opened
from yiwang.common.clock import ManualClock
from yiwang.common.events import CaseLeftMediation, MediationOutcome
from yiwang.common.states import CaseState, IllegalTransition
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RETURNED, MEDIATION_EVENTS
from yiwang.mediation import handlers
from yiwang.mediation.domain.roster import synthetic_roster
from yiwang.mediation.domain.workflow import MediationStatus

FREE_TEXT = "申请人张三不愿调解，电话13912345678"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def uow() -> FakeMediationUnitOfWork:
    return FakeMediationUnitOfWork(synthetic_roster("140302", 2))


def handed_back(uow: FakeMediationUnitOfWork) -> list[tuple[str, CaseLeftMediation]]:
    return [(topic, e) for topic, e in uow.committed if isinstance(e, CaseLeftMediation)]


async def agreed(uow: FakeMediationUnitOfWork, clock: ManualClock) -> str:
    """A mediation with an agreement whose performance deadline has come."""
    mid = await opened(uow, clock)
    await handlers.accept_dispute(
        uow=uow, actor=HUB, mediation_id=mid, mediator_id=None, clock=clock
    )
    deadline = NOW + timedelta(days=10)
    await handlers.record_agreement(
        uow=uow, actor=HUB, mediation_id=mid, terms="赔偿", amounts=[], performance_deadline=deadline,
        clock=clock,
    )  # fmt: skip
    clock.set(deadline)
    return mid


async def test_a_declined_dispute_goes_back_to_routing(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    case = await handlers.decline_dispute(
        uow=uow, actor=HUB, mediation_id=mid, reason=FREE_TEXT, clock=clock
    )
    assert case.status is MediationStatus.DECLINED
    assert case.case_state is CaseState.RETURNED
    assert lifecycle(uow)[-1] == (CaseState.IN_MEDIATION, CaseState.RETURNED)
    [(topic, back)] = handed_back(uow)
    assert topic == CASE_RETURNED
    assert (back.case_id, back.mediation_id, back.outcome) == ("c1", mid, MediationOutcome.DECLINED)
    assert back.reason == f"mediation declined at {case.committee.code}"
    # The step, then the returned entry, then the hand-back (routing's routed entry follows).
    assert [t for t, _ in uow.committed][-3:] == [MEDIATION_EVENTS, CASE_LIFECYCLE, CASE_RETURNED]
    assert "13912345678" not in repr(uow.committed)
    assert "张三" not in repr(uow.committed)


async def test_a_withdrawn_dispute_goes_back_to_routing_and_frees_the_mediator(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    accepted = await handlers.accept_dispute(
        uow=uow, actor=HUB, mediation_id=mid, mediator_id=None, clock=clock
    )
    assert accepted.mediator_id is not None
    case = await handlers.withdraw_dispute(
        uow=uow, actor=HUB, mediation_id=mid, reason=FREE_TEXT, clock=clock
    )
    assert (case.status, case.case_state) == (MediationStatus.WITHDRAWN, CaseState.RETURNED)
    [(_, back)] = handed_back(uow)
    assert back.outcome is MediationOutcome.WITHDRAWN
    assert FREE_TEXT not in back.reason
    assert uow.roster_repository.mediators[accepted.mediator_id].load == 0


async def test_an_agreement_not_honoured_and_referred_closes_the_case(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await agreed(uow, clock)
    case = await handlers.record_follow_up(
        uow=uow, actor=HUB, mediation_id=mid, honoured=False, reopen=False, note=None, clock=clock,
        policy=POLICY,
    )  # fmt: skip
    assert (case.status, case.case_state) == (MediationStatus.REFERRED, CaseState.CLOSED)
    assert lifecycle(uow)[-2:] == [
        (CaseState.IN_MEDIATION, CaseState.RESOLVED),
        (CaseState.RESOLVED, CaseState.CLOSED),
    ]
    assert handed_back(uow) == []


async def test_an_agreement_not_honoured_and_reopened_mediates_again(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await agreed(uow, clock)
    case = await handlers.record_follow_up(
        uow=uow, actor=HUB, mediation_id=mid, honoured=False, reopen=True, note=None, clock=clock,
        policy=POLICY,
    )  # fmt: skip
    assert (case.status, case.case_state) == (MediationStatus.PENDING, CaseState.IN_MEDIATION)
    assert lifecycle(uow)[-1] == (CaseState.RESOLVED, CaseState.IN_MEDIATION)
    await handlers.withdraw_dispute(
        uow=uow, actor=HUB, mediation_id=mid, reason="撤回", clock=clock
    )
    assert lifecycle(uow)[-1] == (CaseState.IN_MEDIATION, CaseState.RETURNED)
    assert [e.outcome for _, e in handed_back(uow)] == [MediationOutcome.WITHDRAWN]


async def test_a_move_the_state_machine_forbids_writes_nothing(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await agreed(uow, clock)
    uow.repository.cases[mid].case_state = CaseState.CLOSED  # say, closed by someone else
    history, committed = list(uow.repository.steps[mid]), len(uow.committed)
    with pytest.raises(IllegalTransition, match="cannot go from 'closed' to 'closed'"):
        await handlers.record_follow_up(
            uow=uow, actor=HUB, mediation_id=mid, honoured=True, reopen=False, note=None, clock=clock,
            policy=POLICY,
        )  # fmt: skip
    assert uow.repository.steps[mid] == history
    assert len(uow.committed) == committed
    assert uow.repository.cases[mid].status is MediationStatus.AGREED
