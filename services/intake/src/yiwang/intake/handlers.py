"""Intake's use cases: one short function each."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from yiwang.common.case import CaseFacts, Channel, SourceRef
from yiwang.common.categories import CATEGORIES
from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseReceived,
    CaseStateChanged,
    DuplicateLinked,
    FieldError,
    SubmissionRejected,
)
from yiwang.common.personal_data import PersonalDataVault, mask_id_number, mask_name, mask_phone
from yiwang.common.postgres import handle_once
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RECEIVED, INTAKE_REJECTIONS
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter, NewCase, SealedReporter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain import admission
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.case import (
    CaseView,
    DuplicateMatch,
    TimelineEntry,
    case_number,
    find_master,
    local_day,
)
from yiwang.intake.domain.open311 import check_attributes
from yiwang.intake.domain.submission import CaseSubmission, check_submission

CONSUMER = "intake"
OWN_SOURCE = "/yiwang/intake"


@dataclass(frozen=True, slots=True)
class Admitted:
    case_id: uuid.UUID
    case_number: str
    created: bool  # False: a retry of a submission that already has its case
    duplicate_of: str | None = None  # the master case number, when linked as a duplicate
    token: str | None = None


async def submit_case(
    *,
    uow: IntakeUnitOfWork,
    submission: CaseSubmission,
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
    idempotency: IdempotencyKey | None = None,
    api_key_id: str | None = None,
    with_token: bool = False,
) -> Admitted:
    """Check, de-duplicate and store a submission; announce it; all or nothing."""
    now = clock.now()
    check_submission(submission, now=now)
    check_attributes(
        CATEGORIES[submission.category],
        submission.attributes,
        required_enforced=submission.channel is Channel.OPEN311,
    )
    point = admission.normalised_point(submission.location, policy)
    request_hash = admission.fingerprint(submission)
    # Reserved before the transaction takes its connection (see CaseNumberIssuer); a retry
    # that finds its case already made leaves a gap in the day's numbers, nothing worse.
    number = case_number(
        county_code=policy.county_code, received_at=now, sequence=await numbers.next(local_day(now))
    )
    async with uow:
        if idempotency is not None:
            await uow.cases.lock_keys([f"idem:{idempotency.scope}:{idempotency.key}"])
            found = await uow.cases.find_idempotent(scope=idempotency.scope, key=idempotency.key)
            if found is not None:
                admission.check_same_request(
                    recorded_hash=found[1], request_hash=request_hash, key=idempotency
                )
                view = await uow.cases.get(str(found[0]))
                assert view is not None
                return Admitted(
                    view.case_id,
                    view.case_number,
                    created=False,
                    duplicate_of=view.master_case_number,
                )
        master = await _find_master(
            uow=uow, submission=submission, point=point, policy=policy, clock=clock
        )
        case_id = uuid.uuid4()
        await uow.cases.add(_new_case(case_id, number, submission, point, master, api_key_id, now))
        reporter = _seal_reporter(case_id, submission, vault, now)
        await uow.cases.add_reporter(reporter)
        if idempotency is not None:
            await uow.cases.add_idempotency_key(
                scope=idempotency.scope,
                key=idempotency.key,
                request_hash=request_hash,
                case_id=case_id,
                at=now,
            )
        token = secrets.token_urlsafe(12) if with_token else None
        if token:
            await uow.cases.add_token(token=token, case_id=case_id, at=now)
        ref = admission.reporter_ref(
            reporter_id=reporter.reporter_id,
            name=submission.reporter.name,
            phone=submission.reporter.phone,
            anonymous=submission.reporter.anonymous,
        )
        facts = admission.case_facts(
            case_id=case_id, case_number=number, submission=submission, point=point, reporter=ref
        )
        await _announce(uow=uow, submission=submission, facts=facts, master=master, now=now)
    return Admitted(
        case_id,
        number,
        created=True,
        duplicate_of=master.master.case_number if master else None,
        token=token,
    )


async def reject_submission(
    *, uow: IntakeUnitOfWork, event_id: str, source: SourceRef | None, errors: list[tuple[str, str]]
) -> bool:
    """Tell the sending platform, on the rejection topic, which fields were wrong and why."""

    async def publish(uow_: Any) -> None:
        rejected = SubmissionRejected(
            source=source,
            original_event_id=event_id,
            errors=tuple(FieldError(field=f, reason=r) for f, r in errors),
        )
        await uow_.emit(rejected, topic=INTAKE_REJECTIONS)

    return await handle_once(
        uow, consumer=f"{CONSUMER}:rejections", event_id=event_id, effects=publish
    )


async def record_state_change(
    *, uow: IntakeUnitOfWork, envelope: Envelope[CaseStateChanged]
) -> bool:
    """Keep intake's view (and Open311 status) current from case.lifecycle.v1."""
    change = envelope.payload

    async def apply(_: Any) -> None:
        case_id = uuid.UUID(change.case_id)
        entry = TimelineEntry(
            change.at, change.from_state, change.to_state, change.actor, change.note
        )
        await uow.cases.add_timeline(event_id=envelope.id, case_id=case_id, entry=entry)
        lead = (
            change.department.value
            if change.department and change.to_state is CaseState.ROUTED
            else None
        )
        await uow.cases.apply_state(
            case_id=case_id, state=change.to_state, note=change.note, lead=lead, at=change.at
        )

    if envelope.source == OWN_SOURCE:
        return False  # intake wrote its own entries when it made them
    try:
        uuid.UUID(change.case_id)
    except ValueError:
        return False  # not a case intake opened (another county platform's id scheme)
    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=apply)


async def get_case(*, uow: IntakeUnitOfWork, ref: str) -> CaseView | None:
    async with uow:
        return await uow.cases.get(ref)


async def list_cases(*, uow: IntakeUnitOfWork, case_filter: CaseFilter) -> list[CaseView]:
    async with uow:
        return await uow.cases.find(case_filter)


async def case_for_token(*, uow: IntakeUnitOfWork, token: str) -> str | None:
    async with uow:
        return await uow.cases.case_for_token(token)


async def _find_master(
    *,
    uow: IntakeUnitOfWork,
    submission: CaseSubmission,
    point: tuple[float, float] | None,
    policy: IntakePolicy,
    clock: Clock,
) -> DuplicateMatch | None:
    if point is None:
        return None
    window = policy.duplicates
    await uow.cases.lock_keys(admission.duplicate_lock_names(submission.category, point, window))
    now = clock.now()
    candidates = await uow.cases.open_cases_near(
        category=submission.category,
        bbox=window.bounding_box(*point),
        since=admission.since(now, window),
    )
    return find_master(candidates, lon=point[0], lat=point[1], at=now, window=window)


def _new_case(
    case_id: uuid.UUID,
    number: str,
    submission: CaseSubmission,
    point: tuple[float, float] | None,
    master: DuplicateMatch | None,
    api_key_id: str | None,
    now: Any,
) -> NewCase:
    location = submission.location
    details = submission.model_dump(
        mode="json",
        include={"grid_worker", "hotline", "petition", "reported_at"},
        exclude_none=True,
    )
    return NewCase(
        case_id=case_id,
        case_number=number,
        channel=submission.channel.value,
        category=submission.category,
        title=submission.title,
        description=submission.description,
        priority=submission.priority.value,
        state=(CaseState.DUPLICATE if master else CaseState.RECEIVED).value,
        lon=point[0] if point else None,
        lat=point[1] if point else None,
        crs_submitted=location.crs.value if location.has_point else None,
        lon_submitted=location.lon,
        lat_submitted=location.lat,
        address=location.address,
        admin_code=location.admin_code,
        micro_grid_hint=location.micro_grid_hint,
        source_system=submission.source.system if submission.source else None,
        external_id=submission.source.external_id if submission.source else None,
        channel_details=details,
        media_urls=submission.media_urls
        + (submission.grid_worker.photo_urls if submission.grid_worker else ()),
        attributes=dict(submission.attributes),
        master_case_id=master.master.case_id if master else None,
        api_key_id=api_key_id,
        received_at=now,
    )


def _seal_reporter(
    case_id: uuid.UUID, submission: CaseSubmission, vault: PersonalDataVault, now: Any
) -> SealedReporter:
    reporter = submission.reporter
    reporter_id = uuid.uuid4()
    context = reporter_id.bytes
    return SealedReporter(
        reporter_id=reporter_id,
        case_id=case_id,
        anonymous=reporter.anonymous,
        name_masked=mask_name(reporter.name),
        phone_masked=mask_phone(reporter.phone),
        id_number_masked=mask_id_number(reporter.id_number),
        name_sealed=vault.seal(reporter.name, context=context),
        phone_sealed=vault.seal(reporter.phone, context=context),
        id_number_sealed=vault.seal(reporter.id_number, context=context),
        email_sealed=vault.seal(submission.email, context=context),
        created_at=now,
    )


async def _announce(
    *,
    uow: IntakeUnitOfWork,
    submission: CaseSubmission,
    facts: CaseFacts,
    master: DuplicateMatch | None,
    now: Any,
) -> None:
    def change(
        from_state: CaseState | None, to_state: CaseState, note: str | None = None
    ) -> CaseStateChanged:
        return CaseStateChanged(
            case_id=facts.case_id,
            case_number=facts.case_number,
            from_state=from_state,
            to_state=to_state,
            actor=f"intake:{submission.channel.value}",
            note=note,
            at=now,
            category=facts.category,
            channel=submission.channel,
            priority=submission.priority,
        )

    async def record(entry: CaseStateChanged) -> None:
        # Written now, not when the event comes back: the case shows its timeline at once.
        envelope = await uow.emit(entry, topic=CASE_LIFECYCLE)
        timeline_entry = TimelineEntry(
            entry.at, entry.from_state, entry.to_state, entry.actor, entry.note
        )
        await uow.cases.add_timeline(
            event_id=envelope.id, case_id=uuid.UUID(entry.case_id), entry=timeline_entry
        )

    await record(change(None, CaseState.RECEIVED))
    if master is None:
        received = CaseReceived(
            case_id=facts.case_id,
            case=facts,
            received_at=now,
            petition=submission.petition,
            grid_worker=submission.grid_worker,
        )
        await uow.emit(received, topic=CASE_RECEIVED)
        return
    count = await uow.cases.count_another_reporter(master_id=master.master.case_id, at=now)
    await uow.emit(
        change(
            CaseState.RECEIVED, CaseState.DUPLICATE, f"duplicate of {master.master.case_number}"
        ),
        topic=CASE_LIFECYCLE,
    )
    linked = DuplicateLinked(
        case_id=str(master.master.case_id),
        duplicate_case_id=facts.case_id,
        duplicate_case_number=facts.case_number,
        reporter=facts.reporters[0],
        reporter_count=count,
        distance_m=round(master.distance_m, 1),
    )
    await uow.emit(linked, topic=CASE_LIFECYCLE)
