import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yiwang.common.states import (
    OWNERS,
    TERMINAL_STATES,
    TRANSITIONS,
    CaseState,
    IllegalTransition,
    check_transition,
)


def test_the_happy_path_is_allowed() -> None:
    path = [
        CaseState.RECEIVED,
        CaseState.ROUTED,
        CaseState.DISPATCHED,
        CaseState.ACKNOWLEDGED,
        CaseState.IN_PROGRESS,
        CaseState.RESOLVED,
        CaseState.EVALUATED,
        CaseState.CLOSED,
    ]
    for current, target in itertools.pairwise(path):
        check_transition(case_id="c1", current=current, target=target)


def test_illegal_transition_names_the_case_the_states_and_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(
            case_id="LZ-20261121-0042", current=CaseState.RECEIVED, target=CaseState.RESOLVED
        )
    message = str(caught.value)
    assert "LZ-20261121-0042" in message
    assert "'received' to 'resolved'" in message
    assert "routed" in message  # what would have been allowed
    assert caught.value.current is CaseState.RECEIVED
    assert caught.value.target is CaseState.RESOLVED


def test_closed_and_rejected_are_terminal() -> None:
    assert {CaseState.CLOSED, CaseState.REJECTED} == TERMINAL_STATES
    with pytest.raises(IllegalTransition, match="none \\(terminal state\\)"):
        check_transition(case_id="c", current=CaseState.CLOSED, target=CaseState.IN_PROGRESS)


def test_every_state_has_a_row_and_targets_are_states() -> None:
    assert set(TRANSITIONS) == set(CaseState)
    for targets in TRANSITIONS.values():
        assert targets <= set(CaseState)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (CaseState.DISPATCHED, CaseState.RESOLVED),  # must be acknowledged first
        (CaseState.RETURNED, CaseState.DISPATCHED),  # a returned case goes back to routing
        (CaseState.DUPLICATE, CaseState.ROUTED),  # duplicates are never dispatched
        (CaseState.RECEIVED, CaseState.ACKNOWLEDGED),
    ],
)
def test_shortcuts_are_refused(current: CaseState, target: CaseState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(case_id="c", current=current, target=target)


def test_every_non_terminal_state_has_an_owner() -> None:
    assert set(OWNERS) == set(CaseState) - TERMINAL_STATES
    services = {"intake", "grid-routing", "department-dispatch", "mediation", "oversight"}
    for state, owners in OWNERS.items():
        assert owners, state
        assert set(owners) <= services, (state, owners)


def _reaches_an_end(start: CaseState) -> list[CaseState] | None:
    """A shortest path from `start` to a terminal state (breadth first), or None."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        state = frontier.pop(0)
        if state in TERMINAL_STATES:
            return paths[state]
        for target in sorted(TRANSITIONS[state]):
            if target not in paths:
                paths[target] = [*paths[state], target]
                frontier.append(target)
    return None


@pytest.mark.parametrize("state", sorted(set(CaseState) - TERMINAL_STATES))
def test_an_end_is_reachable_from_every_non_terminal_state(state: CaseState) -> None:
    path = _reaches_an_end(state)
    assert path is not None, f"{state} (owned by {OWNERS[state]}) is a dead end"
    # Each step on the way is taken by the owner of the state it leaves.
    assert all(OWNERS[step] for step in path[:-1])


@given(st.lists(st.integers(min_value=0, max_value=100), max_size=40))
def test_wherever_a_case_wanders_it_can_still_end(choices: list[int]) -> None:
    """Property: walk the table from `received` along any allowed transitions; wherever
    the walk stops, the case is terminal or a terminal state is reachable from there,
    and someone owns where it is."""
    state = CaseState.RECEIVED
    for choice in choices:
        targets = sorted(TRANSITIONS[state])
        if not targets:
            break
        state = targets[choice % len(targets)]
    assert state in TERMINAL_STATES or (_reaches_an_end(state) and OWNERS[state])
