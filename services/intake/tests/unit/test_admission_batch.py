"""Admitting many submissions at once: each decided as if it came after the ones before it,
a refused one leaving the others be, and the lot written in a few statements."""

from datetime import UTC, datetime

import pytest
from intake_fakes import FakeCaseNumberIssuer, FakeIntakeUnitOfWork, platform_request
from yiwang.common.case import Location, SourceRef
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseReceived,
    CaseStateChanged,
    DuplicateLinked,
    ReporterDetails,
    SubmissionRejected,
    SubmitCase,
)
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.config import DEVELOPMENT_PII_KEY
from yiwang.intake.domain.admission import IdempotencyKeyReused, IntakePolicy
from yiwang.intake.domain.batch import Admitted, Refused, SubmissionRequest
from yiwang.intake.domain.submission import CaseSubmission, LocationOutsideCounty

POLICY = IntakePolicy.of(
    county_code="YQ",
    county_name="县",
    bbox=(113.2, 37.6, 113.9, 38.2),
    radius_m=250,
    window_hours=24,
)
VAULT = PersonalDataVault(DEVELOPMENT_PII_KEY)
FAR = 0.01  # ~880 m in longitude here: never a duplicate


def record(
    external_id: str, lon: float = 113.58, category: str = "sanitation", title: str = "垃圾"
) -> Envelope[SubmitCase]:
    command = SubmitCase(
        source=SourceRef(system="yq-platform", external_id=external_id),
        category=category,
        title=title,
        description="未清运",
        location=Location(lon=lon, lat=37.86),
        reporter=ReporterDetails(name="张三", phone="13812345678"),
    )
    return Envelope(payload=command, source="/yq-platform")


class Intake:
    """Intake's store and numbering, and its clock, for one test."""

    def __init__(self) -> None:
        self.uow = FakeIntakeUnitOfWork()
        self.numbers = FakeCaseNumberIssuer()
        self.clock = ManualClock(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))

    async def admit(self, *records: Envelope[SubmitCase]) -> list[Admitted | Refused]:
        return await self.admit_requests([platform_request(r) for r in records])

    async def admit_requests(self, requests: list[SubmissionRequest]) -> list[Admitted | Refused]:
        return await handlers.admit_submissions(
            uow=self.uow,
            requests=requests,
            policy=POLICY,
            vault=VAULT,
            numbers=self.numbers,
            clock=self.clock,
        )

    def rejections(self) -> list[SubmissionRejected]:
        return [
            e
            for e in self.uow.committed_of(SubmissionRejected)
            if isinstance(e, SubmissionRejected)
        ]


def admitted(result: Admitted | Refused) -> Admitted:
    assert isinstance(result, Admitted), result
    return result


@pytest.fixture
def intake() -> Intake:
    return Intake()


async def test_a_batch_is_numbered_stored_and_announced_in_order(intake: Intake) -> None:
    results = [
        admitted(r)
        for r in await intake.admit(*(record(f"e{n}", 113.3 + n * FAR) for n in range(3)))
    ]
    assert [r.case_number for r in results] == [f"YQ-20261121-0000{n}" for n in (1, 2, 3)]
    assert all(r.created and r.duplicate_of is None for r in results)
    received = intake.uow.committed_of(CaseReceived)
    assert [e.case_id for e in received] == [str(r.case_id) for r in results]
    assert len(intake.uow.cases.reporters) == 3
    assert intake.uow.cases.reporters[0].phone_sealed is not None


async def test_a_repeat_within_the_batch_gets_the_first_ones_case(intake: Intake) -> None:
    first, again = await intake.admit(record("e1"), record("e1"))
    assert admitted(first).created
    assert admitted(again) == Admitted(
        admitted(first).case_id, admitted(first).case_number, created=False
    )
    assert len(intake.uow.cases.cases) == 1
    assert len(intake.uow.committed_of(CaseReceived)) == 1
    # And a later batch's repeat of it finds it stored.
    [later] = await intake.admit(record("e1"))
    assert (admitted(later).case_id, admitted(later).created) == (admitted(first).case_id, False)


async def test_the_same_key_with_another_submission_is_refused_and_answered(intake: Intake) -> None:
    original, changed = record("e1"), record("e1", title="另一件事")
    first, second = await intake.admit(original, changed)
    assert admitted(first).created
    assert isinstance(second, Refused)
    assert isinstance(second.error, IdempotencyKeyReused)
    assert second.error.field == "source.external_id"
    [rejection] = intake.rejections()
    assert rejection.original_event_id == changed.id
    assert rejection.errors[0].field == "source.external_id"
    assert "already used" in rejection.errors[0].reason
    assert len(intake.uow.cases.cases) == 1


async def test_reports_near_an_earlier_one_of_the_batch_are_linked_to_it(intake: Intake) -> None:
    master, near, nearer, other_kind = await intake.admit(
        record("e1"),
        record("e2", 113.5805),
        record("e3", 113.5802),
        record("e4", 113.5801, "noise"),
    )
    number = admitted(master).case_number
    assert [admitted(r).duplicate_of for r in (master, near, nearer, other_kind)] == [
        None,
        number,
        number,
        None,
    ]
    linked = intake.uow.committed_of(DuplicateLinked)
    assert [(e.duplicate_case_number, e.reporter_count) for e in linked] == [
        (admitted(near).case_number, 2),
        (admitted(nearer).case_number, 3),
    ]
    stored = intake.uow.cases.cases
    assert stored[admitted(master).case_id].reporter_count == 3
    assert stored[admitted(near).case_id].state == CaseState.DUPLICATE.value
    assert stored[admitted(near).case_id].master_case_id == admitted(master).case_id
    assert {e.case_id for e in intake.uow.committed_of(CaseReceived)} == {
        str(admitted(master).case_id),
        str(admitted(other_kind).case_id),
    }
    changes = intake.uow.committed_of(CaseStateChanged)
    duplicate_changes = [c for c in changes if c.to_state is CaseState.DUPLICATE]
    assert [c.note for c in duplicate_changes] == [f"duplicate of {number}"] * 2


async def test_reports_near_a_stored_case_are_counted_on_it_once_per_batch(intake: Intake) -> None:
    [master] = await intake.admit(record("e1"))
    near = await intake.admit(record("e2", 113.5805), record("e3", 113.5799))
    assert [admitted(r).duplicate_of for r in near] == [admitted(master).case_number] * 2
    linked = intake.uow.committed_of(DuplicateLinked)
    assert [e.reporter_count for e in linked] == [2, 3]
    assert intake.uow.cases.counts[admitted(master).case_id] == 3
    assert intake.uow.cases.calls.count("count_other_reporters") == 1


async def test_one_invalid_submission_leaves_the_others_be(intake: Intake) -> None:
    outside = record("bad", lon=120.0)
    results = await intake.admit(record("e1"), outside, record("e2", 113.3))
    assert [type(r) for r in results] == [Admitted, Refused, Admitted]
    refused = results[1]
    assert isinstance(refused, Refused)
    assert isinstance(refused.error, LocationOutsideCounty)
    [rejection] = intake.rejections()
    assert rejection.original_event_id == outside.id
    assert rejection.source == SourceRef(system="yq-platform", external_id="bad")
    assert (rejection.errors[0].field, "outside" in rejection.errors[0].reason) == (
        "location",
        True,
    )
    assert [admitted(results[0]).case_number, admitted(results[2]).case_number] == [
        "YQ-20261121-00001",
        "YQ-20261121-00002",  # a refused submission takes no number
    ]
    # The same record again (a redelivery) is not answered twice.
    await intake.admit(outside)
    assert len(intake.rejections()) == 1


async def test_a_batch_is_a_few_statements_with_locks_in_one_order(intake: Intake) -> None:
    records = [record(f"e{n:02d}", 113.3 + (n % 7) * FAR) for n in reversed(range(12))]
    await intake.admit(*records)
    calls = intake.uow.cases.calls
    assert calls == [
        "lock_keys", "find_idempotent", "open_cases_near",
        "add_cases", "add_reporters", "add_idempotency_keys", "add_timeline",
    ]  # fmt: skip
    [locks] = intake.uow.cases.locks  # keys and cells in one statement, in one order
    assert locks == sorted(set(locks))
    assert len([name for name in locks if name.startswith("idem:")]) == 12
    assert len(locks) > 12, "the duplicate cells too"
    assert len(intake.uow.cases.cases) == 12


async def test_a_failed_batch_leaves_nothing_behind(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(intake.uow.cases, "add_idempotency_keys", broken)
    with pytest.raises(ConnectionError):
        await intake.admit(record("e1"), record("bad", lon=120.0))
    assert intake.uow.cases.cases == {}
    assert intake.uow.cases.reporters == []
    assert intake.uow.committed == []


async def test_over_http_one_submission_is_a_batch_of_one_and_raises_its_refusal(
    intake: Intake,
) -> None:
    command = record("e1").payload
    with pytest.raises(LocationOutsideCounty):
        await handlers.submit_case(
            uow=intake.uow,
            submission=CaseSubmission.from_platform(record("x", lon=120.0).payload),
            policy=POLICY,
            vault=VAULT,
            numbers=intake.numbers,
            clock=intake.clock,
        )
    assert intake.uow.cases.calls == []  # refused before any statement
    [result] = await intake.admit_requests([SubmissionRequest(command, with_token=True)])
    assert admitted(result).token in intake.uow.cases.tokens
