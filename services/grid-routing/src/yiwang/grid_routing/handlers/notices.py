"""Notices to residents (宣传员): a publicist of the case's micro-grid records a notice on
the case, announced on grid.tasks.v1 for the grid-worker app."""

from __future__ import annotations

import uuid

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.common.events import GridNoticePublished
from yiwang.common.topics import GRID_TASKS
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.notices import CaseNotInAMicroGrid, GridNotice, check_publicist


async def publish_notice(
    *, uow: RoutingUnitOfWork, clock: Clock, actor: Actor, case_id: str, text: str
) -> GridNotice:
    async with uow:
        micro_grid = await uow.grid_tasks.micro_grid_of(case_id)
        if micro_grid is None:
            raise CaseNotInAMicroGrid(case_id)
        worker_id = actor.grid_worker
        worker = await uow.grid_tasks.worker(worker_id) if worker_id else None
        worker = check_publicist(worker, worker_id, micro_grid)
        notice = GridNotice(
            notice_id=f"gn-{uuid.uuid4().hex[:16]}",
            case_id=case_id,
            worker_id=worker.worker_id,
            micro_grid_code=micro_grid,
            text=text,
            published_at=clock.now(),
        )
        await uow.grid_tasks.add_notice(notice)
        await uow.emit(
            GridNoticePublished(
                case_id=case_id,
                notice_id=notice.notice_id,
                worker_id=notice.worker_id,
                micro_grid_code=micro_grid,
                text=text,
                published_at=notice.published_at,
            ),
            topic=GRID_TASKS,
        )
    return notice


async def case_notices(*, uow: RoutingUnitOfWork, case_id: str) -> list[GridNotice]:
    async with uow:
        return await uow.grid_tasks.notices_of(case_id)
