"""Intake's use cases: one short function each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from yiwang.common.case import SourceRef
from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.postgres import handle_once
from yiwang.common.topics import INTAKE_REJECTIONS
from yiwang.intake import admitting
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.batch import Admitted, Checked, Refused, SubmissionRequest, check
from yiwang.intake.domain.case import CaseView, TimelineEntry, case_numbers, local_day
from yiwang.intake.domain.lifecycle import latest_states
from yiwang.intake.domain.records import rejection
from yiwang.intake.domain.submission import CaseSubmission

CONSUMER = "intake"
OWN_SOURCE = "/yiwang/intake"


async def admit_submissions(
    *,
    uow: IntakeUnitOfWork,
    requests: Sequence[SubmissionRequest],
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
) -> list[Admitted | Refused]:
    """Check, de-duplicate, store and announce many submissions in one transaction, each as
    if it came after the ones before it; a refused one leaves the others be."""
    now = clock.now()
    checks = [check(request, policy=policy, now=now) for request in requests]
    checked = [(r, c) for r, c in zip(requests, checks, strict=True) if isinstance(c, Checked)]
    if not checked and not any(r.record for r in requests):
        return [c for c in checks if isinstance(c, Refused)]  # all refused: nothing to write
    # Reserved before the transaction takes its connection (see CaseNumberIssuer); a retry
    # that finds its case already made leaves a gap in the day's numbers, nothing worse.
    sequences = await numbers.reserve(local_day(now), len(checked)) if checked else range(0)
    numbered = iter(
        case_numbers(county_code=policy.county_code, received_at=now, sequences=sequences)
    )
    async with uow:
        decisions = await admitting.lock_and_decide(
            uow, [c for _, c in checked], policy=policy, numbered=numbered, now=now, clock=clock
        )
        admitted = iter(
            await admitting.store_and_announce(uow, checked, decisions, vault=vault, now=now)
        )
        results = [next(admitted) if isinstance(c, Checked) else c for c in checks]
        await admitting.answer_refusals(uow, requests, results)
    return results


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
    """One submission (HTTP): admitted, or its refusal raised for the route to answer."""
    request = SubmissionRequest(submission, idempotency, api_key_id, with_token)
    [result] = await admit_submissions(
        uow=uow, requests=[request], policy=policy, vault=vault, numbers=numbers, clock=clock
    )
    if isinstance(result, Refused):
        raise result.error
    return result


async def reject_submission(
    *, uow: IntakeUnitOfWork, event_id: str, source: SourceRef | None, errors: list[tuple[str, str]]
) -> bool:
    """Tell the sending platform, on the rejection topic, which fields were wrong and why."""

    async def publish(uow_: Any) -> None:
        await uow_.emit(rejection(event_id, source, errors), topic=INTAKE_REJECTIONS)

    return await handle_once(
        uow, consumer=admitting.REJECTIONS_CONSUMER, event_id=event_id, effects=publish
    )


async def record_state_changes(
    *, uow: IntakeUnitOfWork, envelopes: Sequence[Envelope[CaseStateChanged]]
) -> int:
    """Keep intake's view (and Open311 status) current from case.lifecycle.v1: a poll's
    changes in one transaction. Returns how many were new to it."""
    theirs = [
        (envelope, case_id)
        for envelope in envelopes
        # Intake wrote its own entries when it made them; a case id that is no UUID is
        # another county platform's, not a case intake opened.
        if envelope.source != OWN_SOURCE and (case_id := _case_id(envelope.payload)) is not None
    ]
    if not theirs:
        return 0
    async with uow:
        fresh = await uow.first_deliveries(
            consumer=CONSUMER, event_ids=[envelope.id for envelope, _ in theirs]
        )
        changes = []
        for envelope, case_id in theirs:
            if envelope.id in fresh:
                fresh.discard(envelope.id)  # the same event twice in one poll: once
                changes.append((envelope.id, case_id, envelope.payload))
        if changes:
            await uow.cases.add_timeline(
                [(event_id, case_id, _entry(change)) for event_id, case_id, change in changes]
            )
            await uow.cases.apply_states(latest_states([(c, ch) for _, c, ch in changes]))
    return len(changes)


def _case_id(change: CaseStateChanged) -> uuid.UUID | None:
    try:
        return uuid.UUID(change.case_id)
    except ValueError:
        return None


def _entry(change: CaseStateChanged) -> TimelineEntry:
    from_state = change.from_state.value if change.from_state is not None else None
    return TimelineEntry(change.at, from_state, change.to_state.value, change.actor, change.note)


async def get_case(*, uow: IntakeUnitOfWork, ref: str) -> CaseView | None:
    async with uow:
        return await uow.cases.get(ref)


async def list_cases(*, uow: IntakeUnitOfWork, case_filter: CaseFilter) -> list[CaseView]:
    async with uow:
        return await uow.cases.find(case_filter)


async def case_for_token(*, uow: IntakeUnitOfWork, token: str) -> str | None:
    async with uow:
        return await uow.cases.case_for_token(token)
