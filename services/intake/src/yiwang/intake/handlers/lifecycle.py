"""Keeping intake's view of each case (and its Open311 status) current from
case.lifecycle.v1."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.case import TimelineEntry
from yiwang.intake.domain.lifecycle import latest_states

CONSUMER = "intake"
OWN_SOURCE = "/yiwang/intake"


async def record_state_changes(
    *, uow: IntakeUnitOfWork, envelopes: Sequence[Envelope[CaseStateChanged]]
) -> int:
    """A poll's changes in one transaction. Returns how many were new to intake."""
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
