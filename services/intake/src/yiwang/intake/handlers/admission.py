"""Admitting submissions, from every channel: many at once (a Kafka poll) or one (an HTTP
request, the same code with a batch of one), and answering the refused ones.

Inside the transaction: the locks and lookups for the lot, then the decisions (here), then
the writes and the events (`handlers.opening`), each a few statements however many
submissions the batch holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime

from yiwang.common.case import SourceRef
from yiwang.common.clock import Clock
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.telemetry import handling
from yiwang.common.topics import INTAKE_REJECTIONS
from yiwang.intake import metrics
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain import admission
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.batch import (
    Admitted,
    Checked,
    Decision,
    Refused,
    SubmissionRequest,
    check,
    decide,
)
from yiwang.intake.domain.case import case_numbers, local_day
from yiwang.intake.domain.platforms import Redelivered, replayed
from yiwang.intake.domain.records import rejection
from yiwang.intake.domain.submission import CaseSubmission
from yiwang.intake.handlers.opening import store_and_announce

# The inbox consumer of rejections: each refused record is answered once.
REJECTIONS_CONSUMER = "intake:rejections"
# Platforms' records by position (topic:partition:offset): a record Kafka delivers again
# after a crash does nothing the second time.
RECORDS_CONSUMER = "intake:submission-records"
# And by ce_id: a signed record sent again (a replay) is refused.
SUBMISSIONS_CONSUMER = "intake:submissions"


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
        refused: list[Admitted | Refused] = [c for c in checks if isinstance(c, Refused)]
        metrics.count_submissions(requests, refused)  # all refused: nothing to write
        return refused
    # Reserved before the transaction takes its connection (see CaseNumberIssuer); a retry
    # that finds its case already made leaves a gap in the day's numbers, nothing worse.
    sequences = await numbers.reserve(local_day(now), len(checked)) if checked else range(0)
    numbered = iter(
        case_numbers(county_code=policy.county_code, received_at=now, sequences=sequences)
    )
    case_ids = iter([uuid.uuid4() for _ in checked])
    async with uow:
        checks = await _take_records(uow, requests, checks)
        checked = [(r, c) for r, c in zip(requests, checks, strict=True) if isinstance(c, Checked)]
        decisions = await _lock_and_decide(
            uow, [c for _, c in checked], policy=policy, numbered=numbered, case_ids=case_ids,
            now=now, clock=clock,
        )  # fmt: skip
        admitted = iter(await store_and_announce(uow, checked, decisions, vault=vault, now=now))
        results = [next(admitted) if isinstance(c, Checked) else c for c in checks]
        await _answer_refusals(uow, requests, results)
    metrics.count_submissions(requests, results)  # what committed
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
    submitted_by: str | None = None,
    actor: str | None = None,
) -> Admitted:
    """One submission (HTTP): admitted, or its refusal raised for the route to answer.
    `submitted_by`: the platform or person it is kept for; `actor`: their audit name."""
    request = SubmissionRequest(
        submission, idempotency, api_key_id, with_token, submitted_by=submitted_by, actor=actor
    )
    [result] = await admit_submissions(
        uow=uow, requests=[request], policy=policy, vault=vault, numbers=numbers, clock=clock
    )
    if isinstance(result, Refused):
        raise result.error
    return result


async def reject_submission(
    *,
    uow: IntakeUnitOfWork,
    event_id: str,
    source: SourceRef | None,
    errors: list[tuple[str, str]],
    answer_id: str | None = None,
) -> bool:
    """Tell the sending platform, on the rejection topic, which fields were wrong and why
    (a record that could not even be read as a submission, or not trusted). `event_id`:
    the record's ce_id; `answer_id`: what it is answered once by (its position), by
    default the ce_id. False for a redelivery."""
    async with uow:
        if not await uow.first_delivery(
            consumer=REJECTIONS_CONSUMER, event_id=answer_id or event_id
        ):
            return False  # a redelivery: answered the first time
        await uow.emit(rejection(event_id, source, errors), topic=INTAKE_REJECTIONS)
    return True


async def _take_records(
    uow: IntakeUnitOfWork, requests: Sequence[SubmissionRequest], checks: list[Checked | Refused]
) -> list[Checked | Refused]:
    """The inbox of platforms' records, first in the transaction: a record delivered again
    (its position taken before) is passed over without an answer; a signed record whose
    ce_id was taken before (by an earlier record, or earlier in this poll) is a replay."""
    records = [(n, r) for n, r in enumerate(requests) if r.record is not None]
    if not records:
        return checks
    where = {n: r.position or f"ce_id:{r.record.id}" for n, r in records if r.record}
    # The first record at each position (the one taken below), and its ce_id if signed.
    firsts: dict[str, int] = {}
    for n, position in where.items():
        firsts.setdefault(position, n)
    signed_ids = {
        n: ce_id for n in firsts.values() if (ce_id := _signed_id(requests[n])) is not None
    }
    # One round trip: a record's ce_id is taken only if its position was fresh just now.
    fresh_positions, fresh_ids = await uow.first_deliveries_with_keys(
        consumer=RECORDS_CONSUMER,
        event_ids=list(where.values()),
        keys_consumer=SUBMISSIONS_CONSUMER,
        keys=[(where[n], ce_id) for n, ce_id in signed_ids.items()],
    )
    taken = []
    out = list(checks)
    for n, _ in records:
        if where[n] in fresh_positions:
            fresh_positions.discard(where[n])  # the same position twice: the first only
            taken.append(n)
        else:
            out[n] = Refused(Redelivered(where[n]), answered=False)
    signed = [(n, signed_ids[n]) for n in taken if n in signed_ids]
    for n, ce_id in signed:
        if ce_id in fresh_ids:
            fresh_ids.discard(ce_id)
        else:
            out[n] = Refused(replayed(ce_id))
    return out


def _signed_id(request: SubmissionRequest) -> str | None:
    """The ce_id of a record whose signature held (only those take a ce_id: an unsigned
    record cannot use up a platform's ids)."""
    return request.record.id if request.record is not None and request.refusal is None else None


async def _lock_and_decide(
    uow: IntakeUnitOfWork,
    checked: list[Checked],
    *,
    policy: IntakePolicy,
    numbered: Iterator[str],
    case_ids: Iterator[uuid.UUID],
    now: datetime,
    clock: Clock,
) -> list[Decision]:
    """Locks, then what is stored, each in one statement for the lot; then the decisions.

    Idempotency keys and duplicate cells are locked in one statement, sorted: every
    transaction (an HTTP request, another batch, a master closing) takes its locks in the
    same global order, so none deadlock.
    """
    keys = list(dict.fromkeys(c.idempotency for c in checked if c.idempotency is not None))
    window = policy.duplicates
    located = [(c.submission.category, p) for c in checked if (p := c.point) is not None]
    names = {f"idem:{k.scope}:{k.key}" for k in keys}
    names.update(n for cat, p in located for n in admission.duplicate_lock_names(cat, p, window))
    if names:
        await uow.cases.lock_keys(sorted(names))
    at = clock.now()  # after the locks: a case stored while this waited is in the window
    areas = [(category, window.bounding_box(*point)) for category, point in located]
    recorded, near = (
        await uow.cases.recorded_and_nearby(
            keys=keys, areas=areas, since=admission.since(at, window)
        )
        if keys or areas
        else ({}, [])
    )
    found = iter(near)
    nearby = [next(found) if c.point is not None else [] for c in checked]
    return decide(
        checked, recorded=recorded, nearby=nearby, numbers=numbered, case_ids=case_ids,
        window=window, now=now, at=at,
    )  # fmt: skip


async def _answer_refusals(
    uow: IntakeUnitOfWork, requests: Sequence[SubmissionRequest], results: list[Admitted | Refused]
) -> None:
    """Kafka senders hear of each refused record once, on the rejection topic."""
    refused = [
        (request.record, request.position or request.record.id, result.error)
        for request, result in zip(requests, results, strict=True)
        if request.record is not None and isinstance(result, Refused) and result.answered
    ]
    if not refused:
        return
    fresh = await uow.first_deliveries(
        consumer=REJECTIONS_CONSUMER, event_ids=[answer_id for _, answer_id, _ in refused]
    )
    for record, answer_id, error in refused:
        if answer_id in fresh:
            fresh.discard(answer_id)  # the same record twice in one batch: answered once
            with handling(record):
                await uow.emit(
                    rejection(record.id, record.payload.source, [(error.field, error.reason)]),
                    topic=INTAKE_REJECTIONS,
                )
