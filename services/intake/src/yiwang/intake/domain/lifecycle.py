"""Intake's view of where each case stands, from case.lifecycle.v1, a poll at a time; and
the duplicates that close with their master (a duplicate is intake's to end)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.case import Channel, Priority
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState, check_transition

ACTOR = "intake"


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """What one case's row takes from a batch of its changes, given its stored state_at:
    nothing if `at` is older; else the state, and the lead if `lead_at` is not older."""

    case_id: uuid.UUID
    state: str
    note: str | None
    at: datetime
    lead: str | None = None
    lead_at: datetime | None = None


def lead_of(change: CaseStateChanged) -> str | None:
    """Routing names the lead department; intake shows it from then on."""
    if change.department and change.to_state is CaseState.ROUTED:
        return change.department.value
    return None


def latest_states(changes: Sequence[tuple[uuid.UUID, CaseStateChanged]]) -> list[StateUpdate]:
    """Per case, what applying its changes one by one, in delivery order, would leave.

    One by one, a change older than the case's state is passed over (a reordered
    delivery), so only a change at least as new as every one before it can apply; of
    those, the ones not older than the stored state do. The last gives the state, and
    the last that names a lead gives the lead.
    """
    latest: dict[uuid.UUID, StateUpdate] = {}
    for case_id, change in changes:
        before = latest.get(case_id)
        if before is not None and change.at < before.at:
            continue
        lead = lead_of(change)
        latest[case_id] = StateUpdate(
            case_id,
            change.to_state.value,
            change.note,
            change.at,
            lead if lead else before.lead if before else None,
            change.at if lead else before.lead_at if before else None,
        )
    return list(latest.values())


def closed_masters(
    changes: Sequence[tuple[uuid.UUID, CaseStateChanged]],
) -> dict[uuid.UUID, datetime]:
    """The cases a poll saw closed, each with when: their duplicates close with them.
    (Closed is terminal: a case closes once, whatever else the poll says of it.)"""
    closed: dict[uuid.UUID, datetime] = {}
    for case_id, change in changes:
        if change.to_state is CaseState.CLOSED:
            closed[case_id] = min(change.at, closed.get(case_id, change.at))
    return closed


@dataclass(frozen=True, slots=True)
class ClosedDuplicate:
    """A duplicate closed with its master: its row has moved; its lifecycle entry follows."""

    case_id: uuid.UUID
    case_number: str
    master_case_number: str
    category: str
    channel: str
    priority: str
    at: datetime  # the master's close, or the duplicate's own last change if later


def closed_with_master_note(master_case_number: str) -> str:
    return f"closed with {master_case_number}"


def closed_with_master(duplicate: ClosedDuplicate) -> CaseStateChanged:
    """The duplicate's own lifecycle entry: duplicate -> closed, by intake."""
    case_id = str(duplicate.case_id)
    check_transition(case_id=case_id, current=CaseState.DUPLICATE, target=CaseState.CLOSED)
    return CaseStateChanged(
        case_id=case_id,
        case_number=duplicate.case_number,
        from_state=CaseState.DUPLICATE,
        to_state=CaseState.CLOSED,
        actor=ACTOR,
        note=closed_with_master_note(duplicate.master_case_number),
        at=duplicate.at,
        category=duplicate.category,
        channel=Channel(duplicate.channel),
        priority=Priority(duplicate.priority),
    )
