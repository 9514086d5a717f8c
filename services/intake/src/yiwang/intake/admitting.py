"""The steps of admitting a batch of submissions inside its transaction: locks and
lookups for the lot, the decisions, then the writes and the events, each a few
statements however many submissions the batch holds."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.telemetry import handling
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, INTAKE_REJECTIONS
from yiwang.intake.adapters.repository import TimelineRow
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain import admission, records
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.batch import (
    Admitted,
    Checked,
    Decision,
    Opening,
    Refused,
    Repeat,
    SubmissionRequest,
    decide,
    reporter_counts,
)
from yiwang.intake.domain.case import TimelineEntry
from yiwang.intake.domain.submission import SubmissionInvalid

REJECTIONS_CONSUMER = "intake:rejections"


async def lock_and_decide(
    uow: IntakeUnitOfWork,
    checked: list[Checked],
    *,
    policy: IntakePolicy,
    numbered: Iterator[str],
    now: datetime,
    clock: Clock,
) -> list[Decision]:
    """Locks, then what is stored, each in one statement for the lot; then the decisions.

    Idempotency keys first, then duplicate cells, each set sorted: every transaction (an
    HTTP request, another batch) takes them in the same global order, so none deadlock.
    """
    keys = list(dict.fromkeys(c.idempotency for c in checked if c.idempotency is not None))
    recorded = {}
    if keys:
        await uow.cases.lock_keys(sorted(f"idem:{k.scope}:{k.key}" for k in keys))
        recorded = await uow.cases.find_idempotent(keys)
    window = policy.duplicates
    located = [(c.submission.category, p) for c in checked if (p := c.point) is not None]
    if located:
        cells = {n for cat, p in located for n in admission.duplicate_lock_names(cat, p, window)}
        await uow.cases.lock_keys(sorted(cells))
    at = clock.now()  # after the locks: a case stored while this waited is in the window
    areas = [(category, window.bounding_box(*point)) for category, point in located]
    found = iter(
        await uow.cases.open_cases_near(areas, since=admission.since(at, window)) if areas else []
    )
    nearby = [next(found) if c.point is not None else [] for c in checked]
    return decide(
        checked, recorded=recorded, nearby=nearby, numbers=numbered, window=window, now=now, at=at
    )


async def store_and_announce(
    uow: IntakeUnitOfWork,
    checked: list[tuple[SubmissionRequest, Checked]],
    decisions: list[Decision],
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


async def _count_on_stored_masters(
    uow: IntakeUnitOfWork, decisions: list[Decision], *, now: datetime
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
                now=now,
            )
        )
        reporter = records.seal_reporter(case_id, item.submission, vault, now)
        self.reporters.append(reporter)
        if item.idempotency is not None:
            self.keys.append((item.idempotency, item.request_hash, case_id))
        token = secrets.token_urlsafe(12) if request.with_token else None
        if token:
            self.tokens.append((token, case_id))
        return reporter, token

    async def store(self, uow: IntakeUnitOfWork, *, at: datetime) -> None:
        """All but the timeline, which needs the events' ids."""
        if self.cases:  # the cases first: the others refer to them
            await uow.cases.add_cases(self.cases)
            await uow.cases.add_reporters(self.reporters)
        if self.keys:
            await uow.cases.add_idempotency_keys(self.keys, at=at)
        if self.tokens:
            await uow.cases.add_tokens(self.tokens, at=at)


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
        await uow.cases.add_timeline(writes.timeline)


async def _announce(uow: IntakeUnitOfWork, case: _Opened, *, now: datetime) -> TimelineRow:
    """Emit the case's events; its "received" entry, for its timeline at once."""
    opening = case.opening
    received, onward = records.announcements(
        case_id=opening.case_id,
        case_number=opening.case_number,
        submission=case.item.submission,
        point=case.item.point,
        reporter=case.reporter,
        master=opening.master,
        reporter_count=case.reporter_count,
        now=now,
    )
    envelope = await uow.emit(received, topic=CASE_LIFECYCLE)
    for event, topic in onward:
        await uow.emit(event, topic=topic)
    entry = TimelineEntry(now, None, CaseState.RECEIVED.value, received.actor, None)
    return envelope.id, opening.case_id, entry


async def answer_refusals(
    uow: IntakeUnitOfWork, requests: Sequence[SubmissionRequest], results: list[Admitted | Refused]
) -> None:
    """Kafka senders hear of each refused record once, on the rejection topic."""
    refused = [
        (request.record, result.error)
        for request, result in zip(requests, results, strict=True)
        if request.record is not None and isinstance(result, Refused)
    ]
    if not refused:
        return
    fresh = await uow.first_deliveries(
        consumer=REJECTIONS_CONSUMER, event_ids=[record.id for record, _ in refused]
    )
    for record, error in refused:
        if record.id in fresh:
            fresh.discard(record.id)  # the same record twice in one batch: answered once
            with handling(record):
                await uow.emit(
                    records.rejection(
                        record.id, record.payload.source, [(error.field, error.reason)]
                    ),
                    topic=INTAKE_REJECTIONS,
                )


def _traced(record: Envelope[Any] | None) -> AbstractContextManager[None]:
    return handling(record) if record is not None else nullcontext()
