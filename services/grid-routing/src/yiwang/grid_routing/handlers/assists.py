"""Assisting tasks (协管员): the township or a department handling a case asks the grid
worker of its micro-grid to assist on site; the worker reports back when done."""

from __future__ import annotations

import uuid

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.common.events import GridAssistDone, GridAssistRequested
from yiwang.common.topics import GRID_TASKS
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.assists import (
    AssistTask,
    AssistTaskUnknown,
    NoAssistant,
    check_assistant,
    check_may_request,
)
from yiwang.grid_routing.domain.errors import NoRoutingHistory


async def request_assist(
    *, uow: RoutingUnitOfWork, clock: Clock, actor: Actor, case_id: str, note: str
) -> AssistTask:
    async with uow:
        place = await uow.grid_tasks.place_of(case_id)
        if place is None:
            raise NoRoutingHistory(case_id)
        requested_by = check_may_request(actor, place, case_id)
        worker = (
            await uow.grid_tasks.assistant_for(place.micro_grid_code)
            if place.micro_grid_code
            else None
        )
        if worker is None or place.micro_grid_code is None:
            raise NoAssistant(case_id, place.micro_grid_code)
        assist = AssistTask(
            assist_id=f"ga-{uuid.uuid4().hex[:16]}",
            case_id=case_id,
            worker_id=worker.worker_id,
            micro_grid_code=place.micro_grid_code,
            requested_by=requested_by,
            note=note,
            requested_at=clock.now(),
        )
        await uow.grid_tasks.add_assist(assist)
        await uow.emit(
            GridAssistRequested(
                case_id=case_id, assist_id=assist.assist_id, worker_id=worker.worker_id,
                micro_grid_code=assist.micro_grid_code, requested_by=requested_by, note=note,
                requested_at=assist.requested_at,
            ),
            topic=GRID_TASKS,
        )  # fmt: skip
    return assist


async def finish_assist(
    *, uow: RoutingUnitOfWork, clock: Clock, actor: Actor, assist_id: str, report: str
) -> AssistTask:
    """The assistant reports the assistance done; AssistTaskDone (409) a second time."""
    async with uow:
        assist = await uow.grid_tasks.get_assist(assist_id)
        if assist is None:
            raise AssistTaskUnknown(assist_id)
        check_assistant(assist, actor.grid_worker)
        assist = assist.done(report=report, at=clock.now())
        await uow.grid_tasks.save_assist(assist)
        await uow.emit(
            GridAssistDone(case_id=assist.case_id, assist_id=assist_id, worker_id=assist.worker_id,
                           report=report, done_at=assist.done_at or clock.now()),
            topic=GRID_TASKS,
        )  # fmt: skip
    return assist


async def my_assists(*, uow: RoutingUnitOfWork, actor: Actor, open_only: bool) -> list[AssistTask]:
    if actor.grid_worker is None:
        return []
    async with uow:
        return await uow.grid_tasks.assists_of(actor.grid_worker, open_only=open_only)
