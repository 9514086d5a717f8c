"""Grid tasks (小事不出网格): a grid-tier matter becomes its micro-grid worker's task, who
settles it on the spot or passes it up (上报); the grid deadline passes it up by itself;
an unsatisfied evaluation of a settlement passes it up too. Every step is on the case's
timeline with its micro-grid and township."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from routing_fakes import NOW, FakeGridTasks, FakeUnitOfWork, received
from yiwang.common.auth import Actor, Role
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseReopened,
    CaseRouted,
    CaseStateChanged,
    GridAssistRequested,
    GridNoticePublished,
    GridTaskAssigned,
    GridTaskPassedUp,
    GridTaskSettled,
    GridWorkerReport,
    WorkerRole,
)
from yiwang.common.sla import GRID_DURATION, grid_deadline
from yiwang.common.states import CaseState
from yiwang.grid_routing.domain.assists import (
    AssistTaskDone,
    CasePlace,
    NoAssistant,
    NotHandlingTheCase,
    NotTheAssistant,
)
from yiwang.grid_routing.domain.grid_tasks import GridTaskClosed, NotServingMicroGrid
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.notices import CaseNotInAMicroGrid, NotThePublicist
from yiwang.grid_routing.domain.roster import GridWorker
from yiwang.grid_routing.handlers import assists, grid_tasks, notices, passing_up, routing

POSITION = 4  # the micro-grid the matters are reported in


@pytest.fixture
def workers(tiny_index: GridIndex) -> tuple[GridWorker, GridWorker]:
    here = tiny_index.micro_grid_refs[POSITION].code
    elsewhere = tiny_index.micro_grid_refs[POSITION + 10].code
    return (
        GridWorker("gw-here", "王建国", (here,), frozenset(WorkerRole)),
        GridWorker("gw-there", "李秀英", (elsewhere,), frozenset(WorkerRole)),
    )


@pytest.fixture
def uow(workers: tuple[GridWorker, GridWorker]) -> FakeUnitOfWork:
    return FakeUnitOfWork(grid_tasks=FakeGridTasks(workers))


def worker(worker_id: str) -> Actor:
    return Actor(worker_id, worker_id, frozenset({Role.GRID_WORKER}), True, grid_worker=worker_id)


def changes(uow: FakeUnitOfWork) -> list[tuple[str | None, str]]:
    return [(c.from_state, c.to_state) for c in uow.committed_of(CaseStateChanged)]


async def assign(kw: dict[str, Any], tiny_index: GridIndex, **update: Any) -> GridTaskAssigned:
    envelope = received(tiny_index, "sanitation", case_id="c-1", position=POSITION)
    if update:
        envelope = dataclasses.replace(envelope, payload=envelope.payload.model_copy(update=update))
    await routing.route_received_cases(envelopes=[envelope], **kw)
    [assigned] = kw["uow"].committed_of(GridTaskAssigned)
    return assigned


async def test_a_grid_tier_matter_becomes_the_micro_grid_workers_task(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    assigned = await assign(kw, tiny_index)
    place = tiny_index.micro_grid_refs[POSITION]
    assert (assigned.worker_id, assigned.micro_grid.code) == ("gw-here", place.code)
    assert assigned.due_at == grid_deadline(NOW, duration=GRID_DURATION)
    assert uow.committed_of(CaseRouted) == []  # no department work order
    [changed] = uow.committed_of(CaseStateChanged)
    assert (changed.from_state, changed.to_state) == (CaseState.RECEIVED, CaseState.IN_GRID)
    assert (changed.micro_grid, changed.township_code) == (place.code, place.township_code)
    assert "gw-here" in (changed.note or "")
    [(_, decision)] = uow.cases.decisions
    assert decision.decision.tier.value == "grid"


async def test_without_an_agent_on_the_roster_it_goes_to_the_department(
    kw: dict[str, Any], tiny_index: GridIndex
) -> None:
    kw["uow"] = FakeUnitOfWork()  # no roster
    await routing.route_received_cases(
        envelopes=[received(tiny_index, "sanitation", position=POSITION)], **kw
    )
    [routed] = kw["uow"].committed_of(CaseRouted)
    assert routed.lead_department == "urban-management"


async def test_settled_on_the_spot_once(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    assigned = await assign(kw, tiny_index)
    clock = kw["clock"]
    task = await grid_tasks.acknowledge_grid_task(
        uow=uow, clock=clock, actor=worker("gw-here"), task_id=assigned.task_id
    )
    assert task.status == "acknowledged"
    await grid_tasks.settle_grid_task(
        uow=uow, clock=clock, actor=worker("gw-here"), task_id=assigned.task_id,
        note="垃圾已清运", photo_urls=("https://photos.example/1.jpg",),
    )  # fmt: skip
    [settled] = uow.committed_of(GridTaskSettled)
    assert settled.photo_urls == ("https://photos.example/1.jpg",)
    resolved = uow.committed_of(CaseStateChanged)[-1]
    assert (resolved.from_state, resolved.to_state) == (CaseState.IN_GRID, CaseState.RESOLVED)
    assert resolved.actor == "grid-worker:gw-here"
    assert resolved.micro_grid == assigned.micro_grid.code
    assert uow.cases.cases["c-1"].state is CaseState.RESOLVED
    with pytest.raises(GridTaskClosed):
        await grid_tasks.settle_grid_task(
            uow=uow, clock=clock, actor=worker("gw-here"), task_id=assigned.task_id,
            note="again", photo_urls=(),
        )  # fmt: skip
    with pytest.raises(GridTaskClosed):
        await grid_tasks.pass_up_grid_task(
            uow=uow, index=tiny_index, matrix=kw["matrix"], clock=clock,
            actor=worker("gw-here"), task_id=assigned.task_id, reason="太难",
        )  # fmt: skip


async def test_a_worker_of_another_micro_grid_is_refused_and_audited(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    assigned = await assign(kw, tiny_index)
    for actor in (worker("gw-there"), Actor("x", "x", frozenset({Role.GRID_WORKER}), True)):
        with pytest.raises(NotServingMicroGrid):
            await grid_tasks.settle_grid_task(
                uow=uow, clock=kw["clock"], actor=actor, task_id=assigned.task_id,
                note="不是我的", photo_urls=(),
            )  # fmt: skip
    assert [a["actor"] for a in uow.grid_tasks.audits] == ["person:gw-there", "person:x"]
    assert {a["outcome"] for a in uow.grid_tasks.audits} == {"refused"}
    assert uow.grid_tasks.tasks[assigned.task_id].is_open


async def test_passed_up_to_the_township_department(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork, matrix: ResponsibilityMatrix
) -> None:
    assigned = await assign(kw, tiny_index)
    await grid_tasks.pass_up_grid_task(
        uow=uow, index=tiny_index, matrix=matrix, clock=kw["clock"], actor=worker("gw-here"),
        task_id=assigned.task_id, reason="需要环卫车辆",
    )  # fmt: skip
    [routed] = uow.committed_of(CaseRouted)
    assert routed.rule_id == "passed-up/sanitation"
    assert (routed.lead_department, routed.tier, routed.attempt) == (
        "urban-management", "township", 2)  # fmt: skip
    passed = uow.committed_of(CaseStateChanged)[-1]
    assert (passed.from_state, passed.to_state) == (CaseState.IN_GRID, CaseState.ROUTED)
    assert "需要环卫车辆" in (passed.note or "")
    assert passed.micro_grid == assigned.micro_grid.code
    [up] = uow.committed_of(GridTaskPassedUp)
    assert not up.timed_out


async def test_not_settled_by_the_grid_deadline_it_passes_up_by_itself(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork, matrix: ResponsibilityMatrix
) -> None:
    assigned = await assign(kw, tiny_index)
    clock = ManualClock(assigned.due_at - timedelta(minutes=1))
    args = {"uow": uow, "index": tiny_index, "matrix": matrix, "clock": clock}
    assert await passing_up.pass_up_overdue_tasks(**args) == 0
    clock.advance(timedelta(minutes=2))
    assert await passing_up.pass_up_overdue_tasks(**args) == 1
    assert await passing_up.pass_up_overdue_tasks(**args) == 0
    [up] = uow.committed_of(GridTaskPassedUp)
    assert up.timed_out
    assert changes(uow)[-1] == (CaseState.IN_GRID, CaseState.ROUTED)
    assert uow.committed_of(CaseStateChanged)[-1].actor == "grid-routing"


async def test_the_informant_who_settles_it_keeps_both_roles(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    assigned = await assign(kw, tiny_index, grid_worker=GridWorkerReport(worker_id="gw-here"))
    assert assigned.informant == "gw-here"
    [in_grid] = uow.committed_of(CaseStateChanged)
    assert "reported by grid worker gw-here (信息员)" in (in_grid.note or "")
    await grid_tasks.settle_grid_task(
        uow=uow, clock=kw["clock"], actor=worker("gw-here"), task_id=assigned.task_id,
        note="当场处理", photo_urls=(),
    )  # fmt: skip
    assert "(informant and agent)" in (uow.committed_of(CaseStateChanged)[-1].note or "")


async def test_an_unsatisfied_evaluation_of_a_settlement_passes_it_up(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork, matrix: ResponsibilityMatrix
) -> None:
    assigned = await assign(kw, tiny_index)
    clock = kw["clock"]
    await grid_tasks.settle_grid_task(
        uow=uow, clock=clock, actor=worker("gw-here"), task_id=assigned.task_id,
        note="已清理", photo_urls=(),
    )  # fmt: skip
    reopened_at = NOW + timedelta(hours=5)

    def reopening(case_id: str) -> Envelope[CaseReopened]:
        return Envelope(
            payload=CaseReopened(
                case_id=case_id, evaluation_id="ev-1", department=None, to_hub=True,
                rehandling=1, reopened_at=reopened_at, reason="unsatisfied (2/5)",
            ),
            source="/yiwang/oversight",
        )  # fmt: skip

    args = {"uow": uow, "index": tiny_index, "matrix": matrix, "clock": clock}
    assert not await passing_up.pass_up_reopened_case(envelope=reopening("dispatched"), **args)
    envelope = reopening("c-1")
    assert await passing_up.pass_up_reopened_case(envelope=envelope, **args)
    assert not await passing_up.pass_up_reopened_case(envelope=envelope, **args)  # redelivered
    [routed] = uow.committed_of(CaseRouted)
    assert (routed.clock_restarted_at, routed.rehandling) == (reopened_at, 1)
    assert routed.lead_department == "urban-management"
    assert changes(uow)[-1] == (CaseState.EVALUATED, CaseState.ROUTED)


async def test_an_informant_not_on_the_roster_is_named_as_such(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    await assign(kw, tiny_index, grid_worker=GridWorkerReport(worker_id="gw-unknown"))
    [in_grid] = uow.committed_of(CaseStateChanged)
    assert "gw-unknown, not an informant on the active roster" in (in_grid.note or "")


async def test_a_publicist_of_the_micro_grid_records_a_notice_on_the_case(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    assigned = await assign(kw, tiny_index)
    notice = await notices.publish_notice(
        uow=uow, clock=kw["clock"], actor=worker("gw-here"), case_id="c-1", text="垃圾清运时间调整"
    )
    assert (notice.worker_id, notice.micro_grid_code) == ("gw-here", assigned.micro_grid.code)
    [published] = uow.committed_of(GridNoticePublished)
    assert published.text == "垃圾清运时间调整"
    assert await notices.case_notices(uow=uow, case_id="c-1") == [notice]
    with pytest.raises(NotThePublicist):
        await notices.publish_notice(
            uow=uow, clock=kw["clock"], actor=worker("gw-there"), case_id="c-1", text="x"
        )
    with pytest.raises(CaseNotInAMicroGrid):
        await notices.publish_notice(
            uow=uow, clock=kw["clock"], actor=worker("gw-here"), case_id="nowhere", text="x"
        )


async def test_the_township_asks_the_micro_grids_assistant_to_help_on_site(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    here = tiny_index.micro_grid_refs[POSITION]
    uow.grid_tasks.places["c-9"] = CasePlace(
        here.code, here.township_code, (Department("housing"),)
    )
    clock = kw["clock"]
    official = Actor("t", "t", frozenset({Role.TOWNSHIP_OFFICIAL}), True,
                     township_code=here.township_code)  # fmt: skip
    assist = await assists.request_assist(
        uow=uow, clock=clock, actor=official, case_id="c-9", note="请协助入户核实"
    )
    assert (assist.worker_id, assist.requested_by) == ("gw-here", f"township:{here.township_code}")
    [requested] = uow.committed_of(GridAssistRequested)
    assert requested.worker_id == "gw-here"
    staff = Actor("s", "s", frozenset({Role.DEPARTMENT_STAFF}), True, department="health")
    with pytest.raises(NotHandlingTheCase):
        await assists.request_assist(uow=uow, clock=clock, actor=staff, case_id="c-9", note="x")
    with pytest.raises(NotTheAssistant):
        await assists.finish_assist(uow=uow, clock=clock, actor=worker("gw-there"),
                                    assist_id=assist.assist_id, report="x")  # fmt: skip
    done = await assists.finish_assist(uow=uow, clock=clock, actor=worker("gw-here"),
                                       assist_id=assist.assist_id, report="已协助核实")  # fmt: skip
    assert done.status == "done"
    with pytest.raises(AssistTaskDone):
        await assists.finish_assist(uow=uow, clock=clock, actor=worker("gw-here"),
                                    assist_id=assist.assist_id, report="again")  # fmt: skip
    uow.grid_tasks.places["c-10"] = CasePlace("nowhere", here.township_code, ())
    with pytest.raises(NoAssistant):
        await assists.request_assist(uow=uow, clock=clock, actor=official, case_id="c-10", note="x")


async def test_a_dispute_goes_to_mediation_naming_the_micro_grids_mediator(
    kw: dict[str, Any], tiny_index: GridIndex, uow: FakeUnitOfWork
) -> None:
    envelope = received(tiny_index, "neighbour-dispute", case_id="c-d", position=POSITION)
    await routing.route_received_cases(envelopes=[envelope], **kw)
    [routed] = uow.committed_of(CaseRouted)
    assert routed.to_mediation
    assert routed.grid_mediator is not None
    assert (routed.grid_mediator.worker_id, routed.grid_mediator.name) == ("gw-here", "王建国")
    assert uow.committed_of(GridTaskAssigned) == []  # a dispute is not a grid task
