"""Intake's view of where each case stands, from case.lifecycle.v1, a poll at a time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState


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
