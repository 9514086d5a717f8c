"""A case as routing keeps it: what was received, and how often it came back."""

from __future__ import annotations

from dataclasses import dataclass, replace

from yiwang.common.departments import Department
from yiwang.common.events import CaseReceived
from yiwang.common.states import CaseState, check_transition


@dataclass(frozen=True, slots=True)
class RoutedCase:
    received: CaseReceived
    state: CaseState = CaseState.RECEIVED
    returns: int = 0
    excluded: tuple[Department, ...] = ()
    attempts: int = 0

    @property
    def case_id(self) -> str:
        return self.received.case_id

    def routed(self) -> RoutedCase:
        check_transition(case_id=self.case_id, current=self.state, target=CaseState.ROUTED)
        return replace(self, state=CaseState.ROUTED, attempts=self.attempts + 1)

    def returned_by(self, department: Department, *, return_count: int) -> RoutedCase:
        """The department's return, as dispatch reported it (dispatch moved it to returned)."""
        excluded = self.excluded if department in self.excluded else (*self.excluded, department)
        return replace(
            self,
            state=CaseState.RETURNED,
            returns=max(self.returns + 1, return_count),
            excluded=excluded,
        )
