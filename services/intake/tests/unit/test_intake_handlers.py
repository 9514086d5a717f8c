import uuid
import weakref
from datetime import UTC, datetime, timedelta

import pytest
from intake_fakes import FakeCaseNumberIssuer, FakeIntakeUnitOfWork
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseStateChanged, DuplicateLinked, SubmissionRejected
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.config import DEVELOPMENT_PII_KEY
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.batch import Admitted
from yiwang.intake.domain.submission import CaseSubmission, LocationOutsideCounty
from yiwang.intake.handlers.lifecycle import OWN_SOURCE

POLICY = IntakePolicy.of(
    county_code="YQ",
    county_name="县",
    bbox=(113.2, 37.6, 113.9, 38.2),
    radius_m=250,
    window_hours=24,
)
VAULT = PersonalDataVault(DEVELOPMENT_PII_KEY)
W = POLICY.duplicates


def submission(lon: float = 113.58, **changes: object) -> CaseSubmission:
    fields: dict[str, object] = {
        "channel": "portal",
        "category": "sanitation",
        "title": "垃圾",
        "description": "未清运",
        "location": {"lon": lon, "lat": 37.86},
        "reporter": {"name": "张三", "phone": "13812345678", "id_number": "140302198805061234"},
    }
    fields.update(changes)
    return CaseSubmission.model_validate(fields)


_NUMBERS: weakref.WeakKeyDictionary[FakeIntakeUnitOfWork, FakeCaseNumberIssuer] = (
    weakref.WeakKeyDictionary()
)


def numbers_of(uow: FakeIntakeUnitOfWork) -> FakeCaseNumberIssuer:
    """One day's numbering per store, as the database keeps it."""
    return _NUMBERS.setdefault(uow, FakeCaseNumberIssuer())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))


async def submit(
    uow: FakeIntakeUnitOfWork,
    clock: ManualClock,
    sub: CaseSubmission,
    key: IdempotencyKey | None = None,
) -> Admitted:
    return await handlers.submit_case(
        uow=uow,
        submission=sub,
        policy=POLICY,
        vault=VAULT,
        numbers=numbers_of(uow),
        clock=clock,
        idempotency=key,
    )


async def test_a_new_case_is_stored_sealed_and_announced(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    admitted = await submit(uow, clock, submission())
    assert admitted.created
    assert admitted.case_number == "YQ-20261121-00001"  # 02:00 UTC is 10:00 in Shanghai
    received = uow.committed_of(CaseReceived)
    assert len(received) == 1
    assert received[0].case.reporters[0].phone_masked == "138****5678"
    assert [c.to_state for c in uow.committed_of(CaseStateChanged)] == [CaseState.RECEIVED]
    sealed = uow.cases.reporters[0]
    assert sealed.phone_sealed is not None
    assert b"13812345678" not in sealed.phone_sealed
    assert VAULT.open(sealed.phone_sealed, context=sealed.reporter_id.bytes) == "13812345678"
    assert sealed.id_number_masked == "140302********1234"


async def test_a_nearby_report_is_linked_not_dispatched_again(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    first = await submit(uow, clock, submission())
    clock.advance(timedelta(minutes=5))
    second = await submit(uow, clock, submission(lon=113.5805))
    assert second.duplicate_of == first.case_number
    assert len(uow.committed_of(CaseReceived)) == 1
    linked = uow.committed_of(DuplicateLinked)
    assert len(linked) == 1
    assert linked[0].case_id == str(first.case_id)
    assert linked[0].reporter_count == 2
    states = [c.to_state for c in uow.committed_of(CaseStateChanged)]
    assert states == [CaseState.RECEIVED, CaseState.RECEIVED, CaseState.DUPLICATE]
    clock.advance(timedelta(hours=25))  # out of the window: a new problem
    assert (await submit(uow, clock, submission(lon=113.5805))).duplicate_of is None


async def test_a_retry_returns_the_first_case_and_emits_nothing(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    key = IdempotencyKey("source:yq", "e-1")
    first = await submit(uow, clock, submission(), key)
    emitted = len(uow.committed)
    again = await submit(uow, clock, submission(), key)
    assert (again.case_id, again.created) == (first.case_id, False)
    assert len(uow.committed) == emitted


async def test_a_failed_check_writes_and_emits_nothing(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    with pytest.raises(LocationOutsideCounty):
        await submit(uow, clock, submission(lon=120.0))
    assert uow.cases.cases == {}
    assert uow.committed == []


async def test_a_rejection_is_published_once_per_record() -> None:
    uow = FakeIntakeUnitOfWork()
    for _ in range(2):
        await handlers.reject_submission(
            uow=uow, event_id="ev-1", source=None, errors=[("title", "required")]
        )
    rejected = uow.committed_of(SubmissionRejected)
    assert len(rejected) == 1
    assert rejected[0].errors[0].field == "title"


async def test_the_lifecycle_moves_intakes_view_on(clock: ManualClock) -> None:
    uow = FakeIntakeUnitOfWork()
    admitted = await submit(uow, clock, submission())
    change = CaseStateChanged(case_id=str(admitted.case_id), from_state=CaseState.RECEIVED, to_state=CaseState.ROUTED,
                              actor="grid-routing", at=clock.now())  # fmt: skip
    routed = Envelope(payload=change, source="/t")
    assert await handlers.record_state_changes(uow=uow, envelopes=[routed], window=W) == 1
    assert uow.cases.cases[admitted.case_id].state == "routed"
    assert (
        await handlers.record_state_changes(uow=uow, envelopes=[routed], window=W) == 0
    )  # redelivered
    foreign = CaseStateChanged(
        case_id="not-a-uuid",
        from_state=None,
        to_state=CaseState.RECEIVED,
        actor="x",
        at=clock.now(),
    )
    own = Envelope(payload=change, source=OWN_SOURCE)
    assert not await handlers.record_state_changes(
        uow=uow, envelopes=[Envelope(payload=foreign, source="/t"), own], window=W
    )
    assert uuid.UUID(str(admitted.case_id))
