"""How a case ends after its evaluation (pure): closed, reopened once to the department,
a second time to the hub, then closed; held by mediation after a mediated agreement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from yiwang.common.departments import Department
from yiwang.common.states import CaseState as S
from yiwang.common.states import IllegalTransition
from yiwang.oversight.domain.closing import (
    CLOSED_AFTER_EVALUATION,
    CLOSED_HUB_STANDS,
    Close,
    HeldByMediation,
    Reopen,
    after_evaluation,
    lifecycle_change,
)
from yiwang.oversight.domain.projection import CaseProjection

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
MS = Department.MARKET_SUPERVISION


def evaluated(*, rehandling: int = 0, resolved_by: str = "market-supervision") -> CaseProjection:
    return CaseProjection(
        case_id="c",
        state=S.EVALUATED,
        lead_department=MS,
        rehandling=rehandling,
        resolved_by=resolved_by,
    )


@pytest.mark.parametrize("score", [3, 4, 5])
def test_three_and_up_close_the_case(score: int) -> None:
    assert after_evaluation(evaluated(), score=score) == Close(CLOSED_AFTER_EVALUATION)
    assert after_evaluation(evaluated(rehandling=2), score=score) == Close(CLOSED_AFTER_EVALUATION)


@pytest.mark.parametrize("score", [1, 2])
def test_unsatisfied_reopens_to_the_department_then_the_hub_then_stands(score: int) -> None:
    first = after_evaluation(evaluated(), score=score)
    assert isinstance(first, Reopen)
    assert (first.department, first.to_hub, first.rehandling) == (MS, False, 1)
    assert "不满意重办" in first.reason
    assert "market-supervision" in first.reason
    second = after_evaluation(evaluated(rehandling=1), score=score)
    assert isinstance(second, Reopen)
    assert (second.department, second.to_hub, second.rehandling) == (None, True, 2)
    assert "county hub" in second.reason
    assert after_evaluation(evaluated(rehandling=2), score=score) == Close(CLOSED_HUB_STANDS)
    assert "evaluation" in CLOSED_HUB_STANDS


def test_a_case_without_a_known_lead_goes_to_the_hub() -> None:
    case = evaluated()
    case.lead_department = None
    reopen = after_evaluation(case, score=1)
    assert isinstance(reopen, Reopen)
    assert (reopen.department, reopen.to_hub, reopen.rehandling) == (None, True, 1)


@pytest.mark.parametrize("score", [1, 3, 5])
def test_a_mediated_agreement_is_mediations_to_close(score: int) -> None:
    held = evaluated(resolved_by="mediation")
    assert after_evaluation(held, score=score) == HeldByMediation()


def test_oversights_own_steps_follow_the_state_machine() -> None:
    change = lifecycle_change(evaluated(), to=S.CLOSED, actor="oversight", note="x", at=NOW)
    assert (change.from_state, change.to_state, change.department) == (S.EVALUATED, S.CLOSED, MS)
    closed = evaluated()
    closed.state = S.CLOSED
    with pytest.raises(IllegalTransition, match="cannot go from 'closed' to 'evaluated'"):
        lifecycle_change(closed, to=S.EVALUATED, actor="resident", note="x", at=NOW)
    with pytest.raises(ValueError, match="no state yet"):
        lifecycle_change(CaseProjection("c"), to=S.CLOSED, actor="oversight", note="x", at=NOW)
