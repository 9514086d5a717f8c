"""Residents' evaluations (一考双评) and follow-up calls (回访): the checks (pure)."""

from __future__ import annotations

from yiwang.common.states import CaseState
from yiwang.oversight.domain.projection import CaseProjection


class CaseNotFound(LookupError):
    """No event about this case has reached oversight."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"case '{case_id}' is unknown to oversight")


class CaseNotResolved(ValueError):
    """Evaluations are only for resolved cases."""

    def __init__(self, case: CaseProjection) -> None:
        self.case_id = case.case_id
        self.state = case.state
        state = case.state.value if case.state else "unknown"
        super().__init__(
            f"case '{case.case_id}' is in state '{state}'; only a resolved case can be evaluated"
        )


class CaseClosed(ValueError):
    """A closed case has ended (结案): it can no longer be evaluated."""

    def __init__(self, case: CaseProjection) -> None:
        self.case_id = case.case_id
        super().__init__(
            f"case '{case.case_id}' is closed; it can no longer be evaluated "
            "(only a resolved case can be evaluated)"
        )


def check_case_known(case: CaseProjection | None, case_id: str) -> CaseProjection:
    if case is None:
        raise CaseNotFound(case_id)
    return case


def check_evaluable(case: CaseProjection | None, case_id: str) -> CaseProjection:
    """Return the case if a resident may evaluate it now, else raise why not."""
    known = check_case_known(case, case_id)
    if known.state is CaseState.CLOSED:
        raise CaseClosed(known)
    if known.state is not CaseState.RESOLVED:
        raise CaseNotResolved(known)
    return known
