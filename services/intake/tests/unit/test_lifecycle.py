"""A poll's lifecycle changes, applied at once, leave each case as one by one would."""

import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from yiwang.common.departments import Department
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.intake.domain.lifecycle import StateUpdate, latest_states, lead_of

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
CASES = [uuid.UUID(int=n) for n in range(1, 4)]
STATES = [CaseState.ROUTED, CaseState.DISPATCHED, CaseState.IN_PROGRESS, CaseState.RETURNED]
DEPARTMENTS = list(Department)


@dataclass(frozen=True)
class Row:
    """The columns of intake.cases the lifecycle moves."""

    state: str
    note: str | None
    lead: str | None
    state_at: datetime


def one_by_one(row: Row, change: CaseStateChanged) -> Row:
    """What the one-at-a-time UPDATE did: an older change leaves the row as it is."""
    if row.state_at > change.at:
        return row
    return Row(change.to_state.value, change.note, lead_of(change) or row.lead, change.at)


def at_once(row: Row, update: StateUpdate) -> Row:
    """What the batch UPDATE does with the case's StateUpdate."""
    if row.state_at > update.at:
        return row
    lead = (
        update.lead if update.lead_at is not None and update.lead_at >= row.state_at else row.lead
    )
    return Row(update.state, update.note, lead, update.at)


def change(
    case_id: uuid.UUID, to_state: CaseState, minute: int, lead: str | None = None
) -> CaseStateChanged:
    return CaseStateChanged(
        case_id=str(case_id), from_state=None, to_state=to_state, actor="t",
        note=f"{to_state.value}@{minute}", at=T0 + timedelta(minutes=minute),
        department=Department(lead) if lead else None,
    )  # fmt: skip


def test_the_latest_change_wins_and_the_lead_comes_from_routing() -> None:
    case = CASES[0]
    routed = change(case, CaseState.ROUTED, 10, DEPARTMENTS[0].value)
    dispatched = change(case, CaseState.DISPATCHED, 12)
    late_and_old = change(case, CaseState.RETURNED, 5, DEPARTMENTS[1].value)  # reordered
    [update] = latest_states([(case, routed), (case, dispatched), (case, late_and_old)])
    assert (update.state, update.at) == ("dispatched", dispatched.at)
    assert (update.lead, update.lead_at) == (DEPARTMENTS[0].value, routed.at)


def test_at_once_is_one_by_one_whatever_the_order_and_the_stored_state() -> None:
    rng = random.Random(7)
    for _ in range(500):
        stored = {
            case: Row("received", None, rng.choice([None, DEPARTMENTS[2].value]),
                      T0 + timedelta(minutes=rng.randint(0, 6)))
            for case in CASES
        }  # fmt: skip
        changes = [
            (case, change(case, rng.choice(STATES), rng.randint(0, 8),
                          rng.choice([None, *[d.value for d in DEPARTMENTS[:3]]])))
            for case in (rng.choice(CASES) for _ in range(rng.randint(1, 8)))
        ]  # fmt: skip
        expected = dict(stored)
        for case, c in changes:
            expected[case] = one_by_one(expected[case], c)
        batched = dict(stored)
        for update in latest_states(changes):
            batched[update.case_id] = at_once(batched[update.case_id], update)
        assert batched == expected, changes


def test_routing_to_another_state_names_no_lead() -> None:
    case = CASES[0]
    returned = change(case, CaseState.RETURNED, 1, DEPARTMENTS[0].value)
    assert lead_of(returned) is None
    assert replace(latest_states([(case, returned)])[0], at=T0).lead is None
