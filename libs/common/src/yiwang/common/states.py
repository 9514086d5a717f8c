"""The case state machine: one table of allowed transitions, and who owns each state.

Every non-terminal state has an owner, the service whose action moves the case on, and
an exit; tests/unit/test_states.py proves a terminal state is reachable from each.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    EVALUATED = "evaluated"
    CLOSED = "closed"
    # Side states.
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    RETURNED = "returned"
    IN_MEDIATION = "in_mediation"
    ESCALATED = "escalated"
    # 小事不出网格: a grid-tier matter is a task for its micro-grid's worker first.
    IN_GRID = "in_grid"


S = CaseState

# The one table. "Overdue" is deliberately absent: it is a flag on a case, not a state,
# because an overdue case is still in whatever stage it stalled in.
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.RECEIVED: frozenset({S.ROUTED, S.DUPLICATE, S.REJECTED, S.IN_MEDIATION, S.IN_GRID}),
    # The grid worker settles it on the spot (resolved), or passes it up (上报) to the
    # township, by hand or when the grid deadline passes (routed).
    S.IN_GRID: frozenset({S.RESOLVED, S.ROUTED}),
    S.ROUTED: frozenset({S.DISPATCHED, S.IN_MEDIATION, S.ESCALATED, S.ROUTED}),
    # A dispatched case gets a new lead order when the hub rules (终审).
    S.DISPATCHED: frozenset({S.ACKNOWLEDGED, S.RETURNED, S.ESCALATED, S.DISPATCHED}),
    # The hub's ruling (终审) hands a case it had signed for to the department it names.
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.RETURNED, S.ESCALATED, S.DISPATCHED}),
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.RESOLVED, S.RETURNED, S.ESCALATED, S.DISPATCHED}),
    # Closed without an evaluation after the waiting time; back to mediation when an
    # agreement (调解协议) is not honoured.
    S.RESOLVED: frozenset({S.EVALUATED, S.CLOSED, S.IN_PROGRESS, S.IN_MEDIATION}),
    # Closed, or dispatched again for re-handling after an "unsatisfied" (不满意重办);
    # a mediated agreement's follow-up may still reopen it in mediation; a matter settled
    # in the grid is passed up to the township department instead (routed).
    S.EVALUATED: frozenset({S.CLOSED, S.DISPATCHED, S.IN_MEDIATION, S.ROUTED}),
    S.CLOSED: frozenset(),
    S.DUPLICATE: frozenset({S.CLOSED}),
    S.REJECTED: frozenset(),
    S.RETURNED: frozenset({S.ROUTED, S.ESCALATED, S.IN_MEDIATION}),
    # Declined or withdrawn in mediation, the case is returned to routing.
    S.IN_MEDIATION: frozenset({S.RESOLVED, S.RETURNED, S.CLOSED, S.ESCALATED}),
    S.ESCALATED: frozenset({S.ROUTED, S.DISPATCHED, S.ACKNOWLEDGED, S.RESOLVED, S.RETURNED}),
}

TERMINAL_STATES = frozenset(state for state, targets in TRANSITIONS.items() if not targets)

# Who moves a case on from each non-terminal state (docs/journey.md has the diagram).
OWNERS: dict[CaseState, tuple[str, ...]] = {
    S.RECEIVED: ("grid-routing",),  # routes it (intake links duplicates at receipt)
    S.ROUTED: ("department-dispatch", "mediation"),  # work orders, or a dispute's ladder
    S.DISPATCHED: ("department-dispatch",),  # the department signs for it or returns it
    S.ACKNOWLEDGED: ("department-dispatch",),
    S.IN_PROGRESS: ("department-dispatch",),
    S.ESCALATED: ("department-dispatch",),  # re-dispatched up the four-level command
    S.RETURNED: ("grid-routing",),  # routed again, or to the hub for arbitration
    S.IN_MEDIATION: ("mediation",),
    S.IN_GRID: ("grid-routing",),  # the grid worker's task: settled, or passed up
    # The resident's evaluation, or the close timer; a mediated agreement's follow-up.
    S.RESOLVED: ("oversight", "mediation"),
    # Closed, or reopened for re-handling (grid-routing passes up what the grid settled).
    S.EVALUATED: ("oversight", "mediation", "grid-routing"),
    S.DUPLICATE: ("intake",),  # closed with its master
}
OPEN_STATES = frozenset(CaseState) - TERMINAL_STATES - {S.DUPLICATE, S.RESOLVED, S.EVALUATED}


class IllegalTransition(ValueError):
    """A case was asked to move to a state the state machine does not allow from here."""

    def __init__(self, *, case_id: str, current: CaseState, target: CaseState) -> None:
        self.case_id = case_id
        self.current = current
        self.target = target
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal state)"
        super().__init__(
            f"case {case_id}: cannot go from '{current}' to '{target}'; allowed from "
            f"'{current}': {allowed}"
        )


def check_transition(*, case_id: str, current: CaseState, target: CaseState) -> None:
    """Raise IllegalTransition unless the table allows current -> target."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(case_id=case_id, current=current, target=target)


def can_transition(current: CaseState, target: CaseState) -> bool:
    return target in TRANSITIONS[current]
