"""Opening the cases a batch admits, inside its transaction: seal each reporter, write the
rows of the lot in a few statements, and announce each case on its topics.

A step of `handlers.admission.admit_submissions`, not a use case of its own.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yiwang.common.envelope import Envelope
from yiwang.common.personal_data import (
    PersonalDataVault,
    mask_id_number,
    mask_name,
    mask_phone,
)
from yiwang.common.states import CaseState
from yiwang.common.telemetry import handling
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RECEIVED
from yiwang.intake.adapters.repository import TimelineRow
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain import records
from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.batch import (
    Admitted,
    Checked,
    Decision,
    Opening,
    Refused,
    Repeat,
    SubmissionRequest,
    reporter_counts,
)
from yiwang.intake.domain.case import TimelineEntry
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid


async def store_and_announce(
    uow: IntakeUnitOfWork,
    checked: Sequence[tuple[SubmissionRequest, Checked]],
    decisions: Sequence[Decision],
    *,
    vault: PersonalDataVault,
    now: datetime,
) -> list[Admitted | Refused]:
    """Write the cases opened and announce them, in submission order; a few statements."""
    with_duplicate, counts = reporter_counts(
        decisions, counted_before=await _count_on_stored_masters(uow, decisions, now=now)
    )
    writes = _Writes()
    opened: list[_Opened] = []
    results: list[Admitted | Refused] = []
    for position, ((request, item), decision) in enumerate(zip(checked, decisions, strict=True)):
        if isinstance(decision, SubmissionInvalid):
            results.append(Refused(decision))
        elif isinstance(decision, Repeat):
            results.append(
                Admitted(decision.case_id, decision.case_number, created=False,
                         duplicate_of=decision.duplicate_of)
            )  # fmt: skip
        else:
            count = counts.get(decision.case_id, 1)
            reporter, token = writes.add(request, item, decision, count, vault=vault, now=now)
            opened.append(
                _Opened(request, item, decision, reporter, with_duplicate.get(position, 0))
            )
            master = decision.master.master.case_number if decision.master else None
            results.append(Admitted(decision.case_id, decision.case_number, True, master, token))
    await _store_while_announcing(uow, writes, opened, now=now)
    return results


def seal_reporter(
    case_id: uuid.UUID,
    submission: CaseSubmission,
    vault: PersonalDataVault,
    now: datetime,
    original: tuple[str | None, str | None] = (None, None),
) -> records.SealedReporter:
    """The reporter's row under a new reporter id: masked values to show, the personal data
    sealed with the id bound in as associated data (a row cannot be opened as another's),
    and the title and description as sent when scrubbing changed them."""
    reporter, reporter_id = submission.reporter, uuid.uuid4()
    context = reporter_id.bytes
    return records.SealedReporter(
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
        title_sealed=vault.seal(original[0], context=context),
        description_sealed=vault.seal(original[1], context=context),
    )


async def _count_on_stored_masters(
    uow: IntakeUnitOfWork, decisions: Sequence[Decision], *, now: datetime
) -> dict[uuid.UUID, int]:
    """Count this batch's duplicates on stored masters; each master's count before them."""
    opened = {d.case_id for d in decisions if isinstance(d, Opening)}
    added = Counter(
        d.master.master.case_id
        for d in decisions
        if isinstance(d, Opening) and d.master and d.master.master.case_id not in opened
    )
    before = {}
    for master_id in sorted(added):  # row locks in one order, as the advisory locks
        total = await uow.cases.count_other_reporters(
            master_id=master_id, added=added[master_id], at=now
        )
        before[master_id] = total - added[master_id]
    return before


@dataclass(frozen=True, slots=True)
class _Opened:
    """A case opened by the batch, to announce."""

    request: SubmissionRequest
    item: Checked
    opening: Opening
    reporter: records.SealedReporter
    reporter_count: int  # its master's, with it, when it is a duplicate


@dataclass
class _Writes:
    """The rows a batch writes: one statement per table for the lot."""

    cases: list[records.NewCase] = field(default_factory=list)
    reporters: list[records.SealedReporter] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    keys: list[tuple[IdempotencyKey, str, uuid.UUID]] = field(default_factory=list)
    tokens: list[tuple[str, uuid.UUID]] = field(default_factory=list)

    def add(
        self,
        request: SubmissionRequest,
        item: Checked,
        opening: Opening,
        reporter_count: int,
        *,
        vault: PersonalDataVault,
        now: datetime,
    ) -> tuple[records.SealedReporter, str | None]:
        """The rows of one case opened; its sealed reporter and its Open311 token."""
        case_id, master = opening.case_id, opening.master
        self.cases.append(
            records.case_record(
                case_id=case_id,
                number=opening.case_number,
                submission=item.submission,
                point=item.point,
                master_case_id=master.master.case_id if master else None,
                api_key_id=request.api_key_id,
                reporter_count=reporter_count,
                submitted_by=request.submitted_by,
                now=now,
            )
        )
        reporter = seal_reporter(case_id, item.submission, vault, now, item.original)
        self.reporters.append(reporter)
        if item.idempotency is not None:
            self.keys.append((item.idempotency, item.request_hash, case_id))
        token = secrets.token_urlsafe(12) if request.with_token else None
        if token:
            self.tokens.append((token, case_id))
        return reporter, token

    async def store(self, uow: IntakeUnitOfWork, *, at: datetime) -> None:
        """All but the timeline, which needs the events' ids."""
        if self.cases or self.keys or self.tokens:
            await uow.cases.add_opened(
                cases=self.cases,
                reporters=self.reporters,
                keys=self.keys,
                tokens=self.tokens,
                at=at,
            )


async def _store_while_announcing(
    uow: IntakeUnitOfWork, writes: _Writes, opened: list[_Opened], *, now: datetime
) -> None:
    """The rows go to the database while this builds and emits the events, most of a
    batch's CPU time: the database works on its core meanwhile instead of afterwards.
    `uow.emit` only buffers (the outbox rows are written at commit), so the connection is
    the store's alone until it is done."""
    stored = asyncio.create_task(writes.store(uow, at=now))
    try:
        for n, case in enumerate(opened):
            if n % 64 == 0:
                await asyncio.sleep(0)  # the store sends its next statement
            with _traced(case.request.record):
                writes.timeline.append(await _announce(uow, case, now=now))
    finally:
        await asyncio.wait([stored])  # the connection is free again, whatever happened
    stored.result()
    if writes.timeline:
        uow.defer_writes()  # the last write: it goes with the events, at commit
        await uow.cases.add_timeline(writes.timeline)


async def _announce(uow: IntakeUnitOfWork, case: _Opened, *, now: datetime) -> TimelineRow:
    """Emit the case's events: its lifecycle on case.lifecycle.v1, and a case that is no
    duplicate on to routing on case.received.v1. Its "received" entry, for its timeline."""
    opening = case.opening
    announced = records.announcement(
        case_id=opening.case_id,
        case_number=opening.case_number,
        submission=case.item.submission,
        point=case.item.point,
        reporter=case.reporter,
        master=opening.master,
        reporter_count=case.reporter_count,
        now=now,
        actor=case.request.actor,
    )
    envelope = await uow.emit(announced.received, topic=CASE_LIFECYCLE)
    if announced.to_routing is not None:
        await uow.emit(announced.to_routing, topic=CASE_RECEIVED)
    for entry in announced.lifecycle:
        await uow.emit(entry, topic=CASE_LIFECYCLE)
    received = TimelineEntry(now, None, CaseState.RECEIVED.value, announced.received.actor, None)
    return envelope.id, opening.case_id, received


def _traced(record: Envelope[Any] | None) -> AbstractContextManager[None]:
    return handling(record) if record is not None else nullcontext()
