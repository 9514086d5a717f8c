"""Keeping intake's view of each case (and its Open311 status) current from
case.lifecycle.v1, and closing the duplicates of the masters that closed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.intake.adapters.repository import TimelineRow
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import duplicate_lock_names
from yiwang.intake.domain.case import DuplicateWindow, TimelineEntry
from yiwang.intake.domain.lifecycle import closed_masters, closed_with_master, latest_states

CONSUMER = "intake"
OWN_SOURCE = "/yiwang/intake"


async def record_state_changes(
    *,
    uow: IntakeUnitOfWork,
    envelopes: Sequence[Envelope[CaseStateChanged]],
    window: DuplicateWindow,
) -> int:
    """A poll's changes in one transaction; a master that closed takes its duplicates with
    it. Returns how many changes were new to intake. `window`: admission's duplicate
    window, whose cell locks keep a submission from joining a master as it closes."""
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
        closed = closed_masters([(c, ch) for _, c, ch in changes])
        if closed:
            await _lock_out_new_duplicates(uow, list(closed), window=window)
        if changes:
            await uow.cases.add_timeline(
                [(event_id, case_id, _entry(change)) for event_id, case_id, change in changes]
            )
            await uow.cases.apply_states(latest_states([(c, ch) for _, c, ch in changes]))
        if closed:
            await _close_duplicates(uow, closed)
    return len(changes)


async def _lock_out_new_duplicates(
    uow: IntakeUnitOfWork, masters: list[uuid.UUID], *, window: DuplicateWindow
) -> None:
    """The duplicate-cell locks around the closing masters, the ones admission takes before
    it looks for a master: a submission being linked to one of them now commits first
    (and is closed below), a later one finds it closed and opens a case of its own."""
    located = await uow.cases.masters_located(masters)
    names = {
        n for category, point in located for n in duplicate_lock_names(category, point, window)
    }
    if names:
        await uow.cases.lock_keys(sorted(names))


async def _close_duplicates(uow: IntakeUnitOfWork, closed: dict[uuid.UUID, datetime]) -> None:
    """Each open duplicate of a closed master: closed in intake's view, on the lifecycle
    topic, and on its timeline (intake's own entries do not come back to it)."""
    timeline: list[TimelineRow] = []
    for duplicate in await uow.cases.close_duplicates(sorted(closed.items())):
        change = closed_with_master(duplicate)
        envelope = await uow.emit(change, topic=CASE_LIFECYCLE)
        timeline.append((envelope.id, duplicate.case_id, _entry(change)))
    if timeline:
        await uow.cases.add_timeline(timeline)


def _case_id(change: CaseStateChanged) -> uuid.UUID | None:
    try:
        return uuid.UUID(change.case_id)
    except ValueError:
        return None


def _entry(change: CaseStateChanged) -> TimelineEntry:
    from_state = change.from_state.value if change.from_state is not None else None
    return TimelineEntry(change.at, from_state, change.to_state.value, change.actor, change.note)
