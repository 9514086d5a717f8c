from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mediation_fakes import HUB, FakeMediationUnitOfWork
from test_mediation_domain import LIMIT, NOW, routed
from yiwang.common.case import ReporterRef
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged, GridMediatorRef, MediationProgressed
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.states import CaseState
from yiwang.mediation import handlers
from yiwang.mediation.config import DEVELOPMENT_PII_KEY
from yiwang.mediation.domain.ladder import LadderPolicy, MediationLevel
from yiwang.mediation.domain.parties import PartyDetails, PartyRole
from yiwang.mediation.domain.roster import synthetic_roster
from yiwang.mediation.domain.workflow import MediationClosed, MediationStatus, NotAccepted

POLICY = LadderPolicy(time_limit=LIMIT, county_code="140302")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def uow() -> FakeMediationUnitOfWork:
    return FakeMediationUnitOfWork(synthetic_roster("140302", 2))


async def opened(uow: FakeMediationUnitOfWork, clock: ManualClock) -> str:
    payload = routed().model_copy(
        update={
            "case": routed().case.model_copy(
                update={"reporters": (ReporterRef(reporter_id="r1", name_masked="张*"),)}
            )
        }
    )
    case = await handlers.open_routed_dispute(
        uow=uow, envelope=Envelope(payload=payload, source="/t"), clock=clock, policy=POLICY
    )
    assert case is not None
    return case.mediation_id


def lifecycle(uow: FakeMediationUnitOfWork) -> list[tuple[str | None, str]]:
    return [
        (e.from_state, e.to_state)
        for e in uow.committed_of(CaseStateChanged)  # type: ignore[attr-defined]
    ]


async def test_a_poll_opens_each_dispute_once_and_leaves_the_rest_to_dispatch(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    def decision(case_id: str, *, to_mediation: bool = True) -> Envelope[Any]:
        payload = routed().model_copy(update={"case_id": case_id, "to_mediation": to_mediation})
        return Envelope(payload=payload, source="/t")

    twice = decision("d2")
    poll = [decision("d1"), decision("w1", to_mediation=False), twice, twice]
    opened = await handlers.open_routed_disputes(
        uow=uow, envelopes=poll, clock=clock, policy=POLICY
    )
    assert sorted(case.case_id for case in opened) == ["d1", "d2"]
    assert (
        await handlers.open_routed_disputes(
            uow=uow, envelopes=[decision("w2", to_mediation=False)], clock=clock, policy=POLICY
        )
        == []
    )
    assert sorted(e.case_id for e in uow.committed_of(MediationProgressed)) == ["d1", "d2"]  # type: ignore[attr-defined]


async def test_the_same_case_routed_twice_opens_one_mediation(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    envelope = Envelope(payload=routed(), source="/t")
    first = await handlers.open_routed_dispute(
        uow=uow, envelope=envelope, clock=clock, policy=POLICY
    )
    again = await handlers.open_routed_dispute(
        uow=uow, envelope=envelope, clock=clock, policy=POLICY
    )
    rerouted = await handlers.open_routed_dispute(
        uow=uow, envelope=Envelope(payload=routed(), source="/t"), clock=clock, policy=POLICY
    )
    assert first is not None
    assert again is None
    assert rerouted is None
    assert len(uow.repository.cases) == 1
    assert lifecycle(uow) == [(CaseState.ROUTED, CaseState.IN_MEDIATION)]


async def test_cases_not_for_mediation_are_left_to_dispatch(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    payload = routed().model_copy(update={"to_mediation": False})
    await handlers.open_routed_dispute(
        uow=uow, envelope=Envelope(payload=payload, source="/t"), clock=clock, policy=POLICY
    )
    assert uow.repository.cases == {}
    assert uow.committed == []


async def test_accept_assigns_and_agreement_resolves_then_follow_up(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    case = await handlers.accept_dispute(
        uow=uow, actor=HUB, mediation_id=mid, mediator_id=None, clock=clock
    )
    assert case.mediator_id is not None
    assert uow.roster_repository.mediators[case.mediator_id].load == 1
    await handlers.schedule_session(
        uow=uow,
        actor=HUB,
        mediation_id=mid,
        scheduled_at=NOW + timedelta(days=2),
        place="村委会",
        clock=clock,
    )
    deadline = NOW + timedelta(days=20)
    await handlers.record_agreement(
        uow=uow,
        actor=HUB,
        mediation_id=mid,
        terms="赔偿",
        amounts=[],
        performance_deadline=deadline,
        clock=clock,
    )
    assert uow.roster_repository.mediators[case.mediator_id].load == 0
    clock.set(deadline)
    assert await handlers.fire_due_timers(uow=uow, clock=clock, policy=POLICY) == 1
    assert await handlers.fire_due_timers(uow=uow, clock=clock, policy=POLICY) == 0
    done = await handlers.record_follow_up(
        uow=uow,
        actor=HUB,
        mediation_id=mid,
        honoured=True,
        reopen=False,
        note=None,
        clock=clock,
        policy=POLICY,
    )
    assert done.status is MediationStatus.HONOURED
    assert lifecycle(uow) == [
        (CaseState.ROUTED, CaseState.IN_MEDIATION),
        (CaseState.IN_MEDIATION, CaseState.RESOLVED),
        (CaseState.RESOLVED, CaseState.CLOSED),
    ]
    assert uow.repository.cases[mid].case_state is CaseState.CLOSED
    steps = [e.step for e in uow.committed_of(MediationProgressed)]  # type: ignore[attr-defined]
    assert steps == [
        "opened",
        "accepted",
        "mediator_assigned",
        "session_scheduled",
        "agreement",
        "follow_up_due",
        "honoured",
    ]


async def test_expiry_escalates_once_and_stale_timers_do_nothing(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    clock.advance(LIMIT)
    assert await handlers.fire_due_timers(uow=uow, clock=clock, policy=POLICY) == 1
    case = uow.repository.cases[mid]
    assert (case.level, case.status, case.round) == (
        MediationLevel.COMMUNITY,
        MediationStatus.PENDING,
        2,
    )
    await handlers.accept_dispute(
        uow=uow, actor=HUB, mediation_id=mid, mediator_id=None, clock=clock
    )
    await handlers.record_failure(
        uow=uow, actor=HUB, mediation_id=mid, reason="no", clock=clock, policy=POLICY
    )
    clock.advance(LIMIT)  # the community timer (round 2) is stale now; the township one fires
    assert await handlers.fire_due_timers(uow=uow, clock=clock, policy=POLICY) == 1
    assert uow.repository.cases[mid].level is MediationLevel.DISTRICT
    assert sorted(str(t["outcome"]) for t in uow.repository.timers if t["fired"]) == [
        "escalated",
        "escalated",
        "stale",
    ]
    assert all(m.load == 0 for m in uow.roster_repository.mediators.values())


async def test_a_refused_transition_writes_nothing(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    with pytest.raises(NotAccepted):
        await handlers.record_agreement(
            uow=uow,
            actor=HUB,
            mediation_id=mid,
            terms="x",
            amounts=[],
            performance_deadline=NOW + LIMIT,
            clock=clock,
        )
    await handlers.withdraw_dispute(uow=uow, actor=HUB, mediation_id=mid, reason="r", clock=clock)
    before = len(uow.committed)
    with pytest.raises(MediationClosed):
        await handlers.schedule_session(
            uow=uow, actor=HUB, mediation_id=mid, scheduled_at=NOW + LIMIT, place="p", clock=clock
        )
    assert len(uow.committed) == before
    assert uow.repository.session_rows == []
    assert lifecycle(uow)[-1] == (CaseState.IN_MEDIATION, CaseState.RETURNED)


async def test_parties_are_sealed_and_only_masked_values_are_shown(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    mid = await opened(uow, clock)
    vault = PersonalDataVault(DEVELOPMENT_PII_KEY)
    party = await handlers.add_party(
        uow=uow,
        actor=HUB,
        vault=vault,
        mediation_id=mid,
        role=PartyRole.RESPONDENT,
        details=PartyDetails("李四", "13912345678", "140302199001011234"),
        clock=clock,
    )
    assert party.phone_masked == "139****5678"
    assert party.phone_sealed is not None
    assert b"13912345678" not in party.phone_sealed
    assert vault.open(party.phone_sealed, context=party.party_id.encode()) == "13912345678"
    view = await handlers.view_mediation(uow=uow, actor=HUB, mediation_id=mid)
    assert [p.role for p in view.parties] == [PartyRole.APPLICANT, PartyRole.RESPONDENT]
    assert "13912345678" not in repr([e for _, e in uow.committed])


async def test_the_micro_grids_mediator_on_the_roster_takes_the_grid_rung(
    uow: FakeMediationUnitOfWork, clock: ManualClock
) -> None:
    """调解员: grid-routing names the micro-grid's mediator; mediation registers the worker
    for the grid's committee and assigns them, not one of its generated names."""
    payload = routed().model_copy(
        update={"grid_mediator": GridMediatorRef(worker_id="gw-1", name="王建国")}
    )
    case = await handlers.open_routed_dispute(
        uow=uow, envelope=Envelope(payload=payload, source="/t"), clock=clock, policy=POLICY
    )
    assert case is not None
    assert case.level is MediationLevel.GRID
    assert case.mediator_id == "gw-1"
    [progress] = [p for p in uow.committed_of(MediationProgressed) if p.step == "mediator_assigned"]  # type: ignore[attr-defined]
    assert progress.mediation_id == case.mediation_id
