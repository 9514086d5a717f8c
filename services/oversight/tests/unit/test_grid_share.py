"""小事不出网格 as oversight sees it, from synthetic lifecycle events (grid-routing's
contract): a grid task runs no department clock, and the settled-in-grid share per
micro-grid and township counts settled (in_grid -> resolved) against passed up
(in_grid -> routed)."""

from __future__ import annotations

from datetime import timedelta

from oversight_fakes import POLICY, T0, FakeRepository, FakeUnitOfWork
from yiwang.common.case import Channel, Priority
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState as S
from yiwang.oversight.adapters.postgres import case_row
from yiwang.oversight.domain.escalation import SlaClock, timers_for
from yiwang.oversight.domain.kpi import (
    CaseFigures,
    GroupBy,
    Kpi,
    Ratio,
    compute_kpis,
    overall,
    rank,
)
from yiwang.oversight.domain.projection import CaseProjection, GridOutcome
from yiwang.oversight.handlers.projection import record_event

GRIDS = {"mg-1": "tw-east", "mg-2": "tw-east", "mg-9": "tw-west"}


def change(
    case_id: str, minutes: float, src: S | None, dst: S, *, grid: str, actor: str = "grid-routing"
) -> Envelope[CaseStateChanged]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor=actor,
            at=T0 + timedelta(minutes=minutes),
            department=Department.URBAN_MANAGEMENT if dst is S.ROUTED else None,
            township_code=GRIDS[grid],
            micro_grid=grid,
            category="sanitation",
            channel=Channel.GRID_WORKER,
            priority=Priority.NORMAL,
        ),
        source="/t",
    )


async def tell(uow: FakeUnitOfWork, *events: Envelope[CaseStateChanged]) -> CaseProjection:
    for event in events:
        await record_event(uow=uow, envelope=event, now=T0, policy=POLICY)
    return uow.repository.cases[events[0].payload.case_id]


async def settled(uow: FakeUnitOfWork, case_id: str, grid: str) -> CaseProjection:
    return await tell(
        uow,
        change(case_id, 0, None, S.RECEIVED, grid=grid, actor="intake"),
        change(case_id, 1, S.RECEIVED, S.IN_GRID, grid=grid),
        change(case_id, 90, S.IN_GRID, S.RESOLVED, grid=grid, actor="grid-worker"),
    )


async def passed_up(uow: FakeUnitOfWork, case_id: str, grid: str) -> CaseProjection:
    return await tell(
        uow,
        change(case_id, 0, None, S.RECEIVED, grid=grid, actor="intake"),
        change(case_id, 1, S.RECEIVED, S.IN_GRID, grid=grid),
        change(case_id, 300, S.IN_GRID, S.ROUTED, grid=grid),
    )


def figures(case: CaseProjection) -> CaseFigures:
    row = case_row(case)
    return CaseFigures(
        case_id=case.case_id,
        lead_department=row["lead_department"],
        township_code=row["township_code"],
        lead_history=tuple(row["lead_history"]),
        returned_by=tuple(row["returned_by"]),
        return_count=row["return_count"],
        responded_at=row["responded_at"],
        resolved_at=row["resolved_at"],
        response_due=row["response_due"],
        resolution_due=row["resolution_due"],
        score=row["score"],
        micro_grid=row["micro_grid"],
        grid_outcome=row["grid_outcome"],
    )


async def test_a_grid_task_runs_no_department_clock_and_is_not_stranded() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    case = await tell(
        uow,
        change("g1", 0, None, S.RECEIVED, grid="mg-1", actor="intake"),
        change("g1", 1, S.RECEIVED, S.IN_GRID, grid="mg-1"),
    )
    assert case.grid_outcome is GridOutcome.IN_GRID
    assert not case.response_running
    assert not case.resolution_running
    assert not case.overdue_at(T0 + timedelta(days=90))
    assert timers_for(case, policy=POLICY) == []  # no ladder, stagnant or stranded timer
    assert [key for key in uow.repository.timers if key[0] == "g1"] == []  # stranded gone


async def test_a_grid_task_passed_up_gets_the_department_clocks_again() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    case = await passed_up(uow, "g2", "mg-1")
    assert case.grid_outcome is GridOutcome.PASSED_UP
    assert case.state is S.ROUTED
    assert case.lead_department is Department.URBAN_MANAGEMENT
    clocks = {t.clock for t in timers_for(case, policy=POLICY)}
    assert {SlaClock.RESPONSE, SlaClock.RESOLUTION, SlaClock.HANDOFF} <= clocks


async def test_a_grid_task_settled_on_the_spot_is_resolved_and_waits_for_evaluation() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    case = await settled(uow, "g3", "mg-2")
    assert case.grid_outcome is GridOutcome.SETTLED
    assert case.state is S.RESOLVED
    assert case.resolved_at == T0 + timedelta(minutes=90)
    assert {t.clock for t in timers_for(case, policy=POLICY)} == {SlaClock.EVALUATION}


async def test_the_settled_in_grid_share_per_grid_and_township() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    cases = [
        await settled(uow, "a1", "mg-1"),
        await settled(uow, "a2", "mg-1"),
        await passed_up(uow, "a3", "mg-1"),
        await settled(uow, "b1", "mg-2"),
        await passed_up(uow, "w1", "mg-9"),
        await tell(  # still with the worker: counts for neither side yet
            uow,
            change("w2", 0, None, S.RECEIVED, grid="mg-9", actor="intake"),
            change("w2", 1, S.RECEIVED, S.IN_GRID, grid="mg-9"),
        ),
    ]
    rows = [figures(c) for c in cases]
    as_of = T0 + timedelta(days=1)
    share = Kpi.SETTLED_IN_GRID_SHARE
    by_grid = {r.group: r.rates[share] for r in compute_kpis(GroupBy.GRID, rows, [], as_of=as_of)}
    assert by_grid == {"mg-1": Ratio(2, 3), "mg-2": Ratio(1, 1), "mg-9": Ratio(0, 1)}
    by_township = {
        r.group: r.rates[share] for r in compute_kpis(GroupBy.TOWNSHIP, rows, [], as_of=as_of)
    }
    assert by_township == {"tw-east": Ratio(3, 4), "tw-west": Ratio(0, 1)}
    ranked = rank(compute_kpis(GroupBy.TOWNSHIP, rows, [], as_of=as_of), by=share)
    assert [(r.rank, r.row.group) for r in ranked] == [(1, "tw-east"), (2, "tw-west")]
    assert overall(rows, [], as_of).rates[share] == Ratio(3, 5)
    # Still with the worker ten days on: its deadlines count against nobody yet.
    late = as_of + timedelta(days=10)
    west = compute_kpis(GroupBy.TOWNSHIP, rows, [], as_of=late)[1]
    assert west.group == "tw-west"
    assert west.rates[Kpi.RESPONSE_RATE].denominator == 1  # w1, passed up; not w2
    assert west.rates[Kpi.RESOLUTION_RATE].denominator == 1
    # A department's row has none: what the grid settles never reaches a department.
    by_department = compute_kpis(GroupBy.DEPARTMENT, rows, [], as_of=as_of)
    assert [r.group for r in by_department] == ["urban-management"]
    assert by_department[0].rates[share].value is None
