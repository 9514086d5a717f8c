"""The SLA clock's start on the case facts, and duplicates that close with their master."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from intake_fakes import FakeIntakeUnitOfWork
from test_intake_handlers import POLICY, W, submission, submit
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.domain import open311
from yiwang.intake.domain.admission import duplicate_lock_names
from yiwang.intake.domain.lifecycle import (
    ClosedDuplicate,
    closed_masters,
    closed_with_master,
)

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def change(
    case_id: uuid.UUID, to_state: CaseState, at: datetime, **extra: object
) -> CaseStateChanged:
    fields: dict[str, object] = {"from_state": CaseState.RESOLVED, "actor": "oversight", **extra}
    return CaseStateChanged(case_id=str(case_id), to_state=to_state, at=at, **fields)  # type: ignore[arg-type]


def closes(uow: FakeIntakeUnitOfWork) -> list[CaseStateChanged]:
    return [
        c
        for c in uow.committed_of(CaseStateChanged)
        if isinstance(c, CaseStateChanged) and c.to_state is CaseState.CLOSED
    ]


async def test_the_case_facts_carry_when_intake_received_it(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    await submit(uow, clock, submission())
    [received] = uow.committed_of(CaseReceived)
    [entry] = uow.committed_of(CaseStateChanged)
    assert isinstance(received, CaseReceived)
    assert isinstance(entry, CaseStateChanged)
    assert received.case.received_at == entry.at == received.received_at == T0


async def test_a_closed_master_closes_its_duplicates_once(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    master = await submit(uow, clock, submission())
    clock.advance(timedelta(minutes=5))
    first = await submit(uow, clock, submission(lon=113.5805))
    second = await submit(uow, clock, submission(lon=113.5803))
    other = await submit(uow, clock, submission(lon=113.70))  # far away: a master of its own
    assert first.duplicate_of == second.duplicate_of == master.case_number
    at = T0 + timedelta(days=3)
    closed = Envelope(payload=change(master.case_id, CaseState.CLOSED, at), source="/t")
    uow.cases.calls.clear()

    assert await handlers.record_state_changes(uow=uow, envelopes=[closed], window=W) == 1

    done = closes(uow)
    assert sorted(c.case_id for c in done) == sorted([str(first.case_id), str(second.case_id)])
    for c in done:
        assert (c.from_state, c.actor, c.at) == (CaseState.DUPLICATE, "intake", at)
        assert c.note == f"closed with {master.case_number}"
        assert (c.case_number, c.category, c.channel) != (None, None, None)
    # One transaction, a statement each: lookup, locks, timeline, states, the closing, and
    # the duplicates' own timeline entries (intake's own events do not come back to it).
    assert uow.cases.calls == [
        "masters_located", "lock_keys", "add_timeline", "apply_states", "close_duplicates",
        "add_timeline",
    ]  # fmt: skip
    assert uow.cases.locks[-1] == sorted(
        duplicate_lock_names("sanitation", (113.58, 37.86), POLICY.duplicates)
    )
    view = await handlers.get_case(uow=uow, ref=first.case_number)
    assert view is not None
    assert view.state == "closed"
    assert open311.open311_status(view.state) == "closed"
    assert open311.status_note(view.state, view.status_note) == (
        f"已结案 Closed: closed with {master.case_number}"
    )
    assert [e.to_state for e in view.timeline][-1] == "closed"
    assert uow.cases.cases[other.case_id].state == "received"

    # The master's close again: redelivered (same id), or sent twice (another id).
    again = Envelope(payload=change(master.case_id, CaseState.CLOSED, at), source="/t")
    assert await handlers.record_state_changes(uow=uow, envelopes=[closed], window=W) == 0
    assert await handlers.record_state_changes(uow=uow, envelopes=[again], window=W) == 1
    assert len(closes(uow)) == 2


async def test_other_changes_of_a_master_leave_its_duplicates_be(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    master = await submit(uow, clock, submission())
    duplicate = await submit(uow, clock, submission(lon=113.5805))
    resolved = change(master.case_id, CaseState.RESOLVED, T0 + timedelta(hours=2),
                      from_state=CaseState.IN_PROGRESS)  # fmt: skip
    uow.cases.calls.clear()
    await handlers.record_state_changes(
        uow=uow, envelopes=[Envelope(payload=resolved, source="/t")], window=W
    )
    assert uow.cases.calls == ["add_timeline", "apply_states"]
    assert uow.cases.cases[duplicate.case_id].state == "duplicate"
    assert closes(uow) == []


async def test_a_poll_closing_several_masters_closes_all_their_duplicates(
    clock: ManualClock,
) -> None:
    uow = FakeIntakeUnitOfWork()
    masters = [await submit(uow, clock, submission(lon=lon)) for lon in (113.58, 113.65)]
    duplicates = [
        await submit(uow, clock, submission(lon=lon + 0.0002)) for lon in (113.58, 113.65)
    ]
    assert [d.duplicate_of for d in duplicates] == [m.case_number for m in masters]
    polled = [
        Envelope(payload=change(m.case_id, CaseState.CLOSED, T0 + timedelta(days=n)), source="/t")
        for n, m in enumerate(masters, start=1)
    ]
    await handlers.record_state_changes(uow=uow, envelopes=polled, window=W)
    by_case = {c.case_id: c for c in closes(uow)}
    assert set(by_case) == {str(d.case_id) for d in duplicates}
    assert by_case[str(duplicates[1].case_id)].note == f"closed with {masters[1].case_number}"
    assert by_case[str(duplicates[1].case_id)].at == T0 + timedelta(days=2)


def test_closed_masters_are_the_cases_a_poll_saw_closed_with_the_first_time() -> None:
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    changes = [
        (a, change(a, CaseState.CLOSED, later)),
        (b, change(b, CaseState.EVALUATED, later)),
        (a, change(a, CaseState.CLOSED, earlier)),
    ]
    assert closed_masters(changes) == {a: earlier}


def test_a_duplicate_closes_by_the_state_machine() -> None:
    duplicate = ClosedDuplicate(uuid.UUID(int=3), "YQ-20261121-00002", "YQ-20261121-00001",
                                "sanitation", "portal", "normal", T0)  # fmt: skip
    entry = closed_with_master(duplicate)
    assert (entry.from_state, entry.to_state, entry.actor) == (
        CaseState.DUPLICATE,
        CaseState.CLOSED,
        "intake",
    )
    assert entry.note == "closed with YQ-20261121-00001"
