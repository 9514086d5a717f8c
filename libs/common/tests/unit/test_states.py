import itertools

import pytest
from yiwang.common.states import (
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
