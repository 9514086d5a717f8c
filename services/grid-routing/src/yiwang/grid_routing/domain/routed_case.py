"""A case as routing keeps it: what was received, who holds it now, how often it came back."""

from __future__ import annotations

from dataclasses import dataclass, replace

from yiwang.common.departments import Department
from yiwang.common.events import CaseReceived
from yiwang.common.states import CaseState, check_transition
from yiwang.grid_routing.domain.errors import CaseNotInMediation


@dataclass(frozen=True, slots=True)
class RoutedCase:
    """`state`: where routing left the case: routed (to a department, or the hub),
    in_mediation (a dispute sent to mediation, which holds it from there), returned (a
    department returned it, or it left mediation), until routing routes it again; in_grid
    (a grid worker's task) and resolved (settled in the grid)."""

    received: CaseReceived
    state: CaseState = CaseState.RECEIVED
    returns: int = 0
    excluded: tuple[Department, ...] = ()
    attempts: int = 0
    mediated: bool = False  # mediation handed it back: never to mediation again

    @property
    def case_id(self) -> str:
        return self.received.case_id

    def routed(self, *, to_mediation: bool = False) -> RoutedCase:
        """Routed again (checked against the state machine). A dispute routed to mediation
        is mediation's from then on (it moves the case to in_mediation)."""
        check_transition(case_id=self.case_id, current=self.state, target=CaseState.ROUTED)
        state = CaseState.IN_MEDIATION if to_mediation else CaseState.ROUTED
        return replace(self, state=state, attempts=self.attempts + 1)

    def in_grid(self) -> RoutedCase:
        """A grid-tier matter handed to its micro-grid's worker (小事不出网格): the grid
        decision is an attempt of its own, so a pass-up is routed as the next one."""
        check_transition(case_id=self.case_id, current=self.state, target=CaseState.IN_GRID)
        return replace(self, state=CaseState.IN_GRID, attempts=self.attempts + 1)

    def settled_in_grid(self) -> RoutedCase:
        """The grid worker settled it on the spot: resolved."""
        check_transition(case_id=self.case_id, current=self.state, target=CaseState.RESOLVED)
        return replace(self, state=CaseState.RESOLVED)

    def reopened(self) -> RoutedCase:
        """Oversight evaluated the settled matter and reopened it (unsatisfied): routing
        takes it from evaluated to the township department."""
        return replace(self, state=CaseState.EVALUATED)

    def returned_by(self, department: Department, *, return_count: int) -> RoutedCase:
        """The department's return, as dispatch reported it (dispatch moved it to returned)."""
        excluded = self.excluded if department in self.excluded else (*self.excluded, department)
        return replace(
            self,
            state=CaseState.RETURNED,
            returns=max(self.returns + 1, return_count),
            excluded=excluded,
        )

    def left_mediation(self) -> RoutedCase:
        """Mediation declined it, or a party withdrew (mediation moved it to returned). No
        department returned it: nothing is counted towards arbitration."""
        check_in_mediation(self)
        check_transition(case_id=self.case_id, current=self.state, target=CaseState.RETURNED)
        return replace(self, state=CaseState.RETURNED, mediated=True)


def check_in_mediation(case: RoutedCase) -> None:
    """Only a dispute routing sent to mediation can come back from it, and once."""
    if case.state is not CaseState.IN_MEDIATION:
        raise CaseNotInMediation(case.case_id, case.state.value)
