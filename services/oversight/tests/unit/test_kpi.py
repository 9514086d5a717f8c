"""KPIs on a scripted scenario; every expected figure is worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from yiwang.oversight.domain.kpi import (
    CaseFigures,
    GroupBy,
    Kpi,
    Ratio,
    WhistleCall,
    compute_kpis,
    overall,
    rank,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
AS_OF = T0 + timedelta(days=30)
H = timedelta(hours=1)
UM, MS = "urban-management", "market-supervision"


def case(
    case_id: str,
    lead: str,
    township: str,
    *,
    responded: float | None,
    resolved: float | None,
    resolution_due: float = 48,
    score: int | None = None,
    history: tuple[str, ...] | None = None,
    returned_by: tuple[str, ...] = (),
    **ending: Any,
) -> CaseFigures:
    """Times in hours after T0; the response is due at 24 h."""
    return CaseFigures(
        case_id=case_id,
        lead_department=lead,
        township_code=township,
        lead_history=history or (lead,),
        returned_by=returned_by,
        return_count=len(returned_by),
        responded_at=T0 + responded * H if responded is not None else None,
        resolved_at=T0 + resolved * H if resolved is not None else None,
        response_due=T0 + 24 * H,
        resolution_due=T0 + resolution_due * H,
        score=score,
        **ending,
    )


CASES = [
    case("c1", UM, "A", responded=2, resolved=40, score=5),  # all on time
    case("c2", UM, "A", responded=30, resolved=60, score=3),  # late twice
    case("c3", UM, "B", responded=None, resolved=None),  # nothing done; both due
    case("c4", MS, "B", responded=3, resolved=20, score=4, history=(UM, MS), returned_by=(UM,)),
    # signed for; its resolution is due only after AS_OF, so it is not counted yet
    case("c5", MS, "A", responded=1, resolved=None, resolution_due=24 * 60),
]
CALLS = [
    WhistleCall("w1", UM, "A", T0 + H, T0 + 0.5 * H, True),
    WhistleCall("w1", MS, "A", T0 + H, T0 + 2 * H, False),
    WhistleCall("w2", UM, "B", T0 + H, None, None),  # never came
    WhistleCall("w3", UM, "B", AS_OF + H, None, None),  # not due yet
]


THREE_RATES_AND_MORE = {
    Kpi.RESPONSE_RATE,
    Kpi.RESOLUTION_RATE,
    Kpi.SATISFACTION_RATE,
    Kpi.ON_TIME_RATE,
    Kpi.RETURN_RATE,
    Kpi.WHISTLE_ATTENDANCE_RATE,
}
ENDING = set(Kpi) - THREE_RATES_AND_MORE - {Kpi.SETTLED_IN_GRID_SHARE}  # test_grid_share.py


def rates(
    rows: list, group: str, kpis: set[Kpi] = THREE_RATES_AND_MORE
) -> dict[Kpi, tuple[int, int]]:  # type: ignore[type-arg]
    row = next(r for r in rows if r.group == group)
    return {k: (v.numerator, v.denominator) for k, v in row.rates.items() if k in kpis}


def test_department_kpis() -> None:
    rows = compute_kpis(GroupBy.DEPARTMENT, CASES, CALLS, as_of=AS_OF)
    assert [r.group for r in rows] == [MS, UM]
    assert rates(rows, UM) == {
        Kpi.RESPONSE_RATE: (1, 3),  # c1 on time; c2 late; c3 never
        Kpi.RESOLUTION_RATE: (2, 3),  # c1, c2 resolved; c3 due and not
        Kpi.ON_TIME_RATE: (1, 3),  # only c1 by its deadline
        Kpi.SATISFACTION_RATE: (1, 2),  # scores 5 and 3
        Kpi.RETURN_RATE: (1, 4),  # lead for c1-c4, returned c4
        Kpi.WHISTLE_ATTENDANCE_RATE: (1, 2),  # w1 on time, w2 absent, w3 not due
    }
    assert rates(rows, MS) == {
        Kpi.RESPONSE_RATE: (2, 2),
        Kpi.RESOLUTION_RATE: (1, 1),  # c5 not due yet
        Kpi.ON_TIME_RATE: (1, 1),
        Kpi.SATISFACTION_RATE: (1, 1),
        Kpi.RETURN_RATE: (0, 2),
        Kpi.WHISTLE_ATTENDANCE_RATE: (0, 1),  # late to w1
    }


def test_township_kpis_and_overall() -> None:
    rows = compute_kpis(GroupBy.TOWNSHIP, CASES, CALLS, as_of=AS_OF)
    assert rates(rows, "A") == {
        Kpi.RESPONSE_RATE: (2, 3),  # c1, c5 on time; c2 late
        Kpi.RESOLUTION_RATE: (2, 2),
        Kpi.ON_TIME_RATE: (1, 2),
        Kpi.SATISFACTION_RATE: (1, 2),
        Kpi.RETURN_RATE: (0, 3),
        Kpi.WHISTLE_ATTENDANCE_RATE: (1, 2),
    }
    assert rates(rows, "B") == {
        Kpi.RESPONSE_RATE: (1, 2),
        Kpi.RESOLUTION_RATE: (1, 2),
        Kpi.ON_TIME_RATE: (1, 2),
        Kpi.SATISFACTION_RATE: (1, 1),
        Kpi.RETURN_RATE: (1, 2),
        Kpi.WHISTLE_ATTENDANCE_RATE: (0, 1),
    }
    total = overall(CASES, CALLS, AS_OF)
    assert rates([total], "all") == {
        Kpi.RESPONSE_RATE: (3, 5),
        Kpi.RESOLUTION_RATE: (3, 4),
        Kpi.ON_TIME_RATE: (2, 4),
        Kpi.SATISFACTION_RATE: (2, 3),
        Kpi.RETURN_RATE: (1, 5),
        Kpi.WHISTLE_ATTENDANCE_RATE: (1, 3),
    }


def test_rankings_best_first_and_returns_lowest_first() -> None:
    rows = compute_kpis(GroupBy.DEPARTMENT, CASES, CALLS, as_of=AS_OF)
    assert [(r.rank, r.row.group) for r in rank(rows, by=Kpi.SATISFACTION_RATE)] == [
        (1, MS),
        (2, UM),
    ]
    assert [(r.rank, r.row.group) for r in rank(rows, by=Kpi.RETURN_RATE)] == [(1, MS), (2, UM)]


def test_an_empty_denominator_is_no_value() -> None:
    assert Ratio(0, 0).value is None
    assert compute_kpis(GroupBy.DEPARTMENT, [], [], as_of=AS_OF) == []


CG, HEALTH = "comprehensive-governance", "health"

# How cases end: evaluated, reopened (to the hub the second time), ruled on, closed.
ENDINGS = [
    case(
        "e1", UM, "A", responded=1, resolved=5, score=5, closed=True, closed_after_evaluation=True
    ),
    case("e2", UM, "A", responded=1, resolved=5, score=2, rehandling=1),  # reopened once
    case(
        "e3",
        CG,
        "A",
        responded=1,
        resolved=5,
        score=1,
        rehandling=2,
        rehandled_to_hub=True,
        history=(UM, CG),
    ),
    case("e4", MS, "B", responded=1, resolved=5, closed=True),  # closed without evaluation
    case(
        "e5",
        MS,
        "B",
        responded=1,
        resolved=None,
        ruled=True,
        history=(UM, HEALTH, MS),
        returned_by=(UM, HEALTH),
    ),
    case(
        "e6", MS, "B", responded=1, resolved=5, score=4, closed=True, closed_after_evaluation=True
    ),
]


def test_how_cases_end_per_department() -> None:
    rows = compute_kpis(GroupBy.DEPARTMENT, ENDINGS, [], as_of=AS_OF)
    assert rates(rows, UM, ENDING) == {
        Kpi.REHANDLING_RATE: (1, 2),  # e1 and e2 evaluated, e2 reopened (e3 is the hub's now)
        Kpi.REHANDLED_TO_HUB_RATE: (0, 1),  # e2 reopened, not (yet) to the hub
        Kpi.ARBITRATION_RATE: (1, 4),  # lead at some time for e1, e2, e3, e5; e5 ruled on
        Kpi.EVALUATED_CLOSE_RATE: (1, 1),  # e1
    }
    assert rates(rows, MS, ENDING) == {
        Kpi.REHANDLING_RATE: (0, 1),  # e6
        Kpi.REHANDLED_TO_HUB_RATE: (0, 0),
        Kpi.ARBITRATION_RATE: (1, 3),  # the ruling named it for e5
        Kpi.EVALUATED_CLOSE_RATE: (1, 2),  # e6 after evaluation, e4 without
    }
    assert rates(rows, CG, ENDING)[Kpi.REHANDLED_TO_HUB_RATE] == (1, 1)
    assert rates(rows, HEALTH, ENDING)[Kpi.ARBITRATION_RATE] == (1, 1)
    assert rates(rows, CG, ENDING)[Kpi.REHANDLING_RATE] == (1, 1)


def test_how_cases_end_per_township_and_overall() -> None:
    rows = compute_kpis(GroupBy.TOWNSHIP, ENDINGS, [], as_of=AS_OF)
    assert rates(rows, "A", ENDING) == {
        Kpi.REHANDLING_RATE: (2, 3),
        Kpi.REHANDLED_TO_HUB_RATE: (1, 2),
        Kpi.ARBITRATION_RATE: (0, 3),
        Kpi.EVALUATED_CLOSE_RATE: (1, 1),
    }
    assert rates([overall(ENDINGS, [], AS_OF)], "all", ENDING) == {
        Kpi.REHANDLING_RATE: (2, 4),
        Kpi.REHANDLED_TO_HUB_RATE: (1, 2),
        Kpi.ARBITRATION_RATE: (1, 6),
        Kpi.EVALUATED_CLOSE_RATE: (2, 3),
    }


def test_fewer_rehandlings_and_arbitrations_rank_first() -> None:
    rows = compute_kpis(GroupBy.DEPARTMENT, ENDINGS, [], as_of=AS_OF)
    ranked = rank(rows, by=Kpi.REHANDLING_RATE)
    # 0 of 1, 1 of 2, 1 of 1; health leads no case of its own: no value, last
    assert [(r.rank, r.row.group) for r in ranked] == [(1, MS), (2, UM), (3, CG), (4, HEALTH)]
