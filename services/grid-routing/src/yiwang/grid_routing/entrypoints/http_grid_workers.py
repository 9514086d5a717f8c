"""HTTP for grid workers: the roster (五大员) and its versions for administrators and
readers, and the grid-worker app's own tasks (小事不出网格).

The grid worker is known from the token: role `grid-worker`, claim `grid_worker` (the
roster's worker id). Acting on a task of a micro-grid the worker does not serve is 403
and audited; acting on a task settled or passed up already is 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.clock import Clock
from yiwang.common.problems import FieldError, Problem
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.rosters import RosterRepository
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.grid_tasks import GridTask
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.roster import (
    RosterRejected,
    read_roster_csv,
    read_roster_geojson,
)
from yiwang.grid_routing.handlers import assists, grid_tasks, notices, rosters

TaskId = Annotated[str, Path(min_length=1, max_length=160)]
CaseId = Annotated[str, Path(min_length=1, max_length=128)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
PhotoUrl = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=1000)]
MicroGridCode = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]


class SettleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: Note
    photo_urls: tuple[PhotoUrl, ...] = Field(default=(), max_length=20)


class PassUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Note


class AssistRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: Note


class AssistReport(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    report: Note


class NoticeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Note


class RosterImport(BaseModel):
    """A roster as CSV text (header worker_id,name,micro_grids,roles) or as a GeoJSON
    FeatureCollection whose features' properties carry the same keys."""

    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, StringConstraints(max_length=200)] = ""
    csv: Annotated[str, StringConstraints(max_length=1_000_000)] | None = None
    geojson: dict[str, Any] | None = None


# Roster versions are a PostgreSQL integer: a larger one is a 422, not a 500.
MAX_VERSION = 2**31 - 1


def grid_workers_router(
    *,
    uow: Callable[[], RoutingUnitOfWork],
    rosters_repo: Callable[[], RosterRepository],
    active_grid: ActiveGrid,
    matrix: ResponsibilityMatrix,
    clock: Clock,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(tags=["grid workers"])
    can_read = allow(authenticate, Role.HUB_OPERATOR, Role.TOWNSHIP_OFFICIAL, Role.AUDITOR,
                     Role.ADMINISTRATOR)  # fmt: skip
    can_import = allow(authenticate, Role.ADMINISTRATOR)
    can_work = allow(authenticate, Role.GRID_WORKER, bound=("micro_grid",))

    @router.get(
        "/rosters",
        summary="Every imported roster version of grid workers, the active one marked",
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def list_rosters() -> list[dict[str, Any]]:
        return [asdict(s) for s in await rosters_repo().summaries()]

    @router.post(
        "/rosters",
        status_code=201,
        summary="Import a roster (CSV or GeoJSON properties), checked against the active grid"
        " set, as a new active version",
        openapi_extra=can_import.openapi,
    )
    async def import_roster(body: RosterImport, actor: Actor = can_import.actor) -> dict[str, Any]:
        if (body.csv is None) == (body.geojson is None):
            raise Problem(422, "give either csv or geojson", errors=[
                FieldError("csv", "give either csv or geojson, not both or neither")])  # fmt: skip
        try:
            rows = read_roster_csv(body.csv) if body.csv is not None else (
                read_roster_geojson(body.geojson))  # fmt: skip
            version = await rosters.import_roster(
                rosters=rosters_repo(),
                rows=rows,
                label=body.label or f"imported by {actor.audit_name}",
                source=f"http:{actor.audit_name}",
            )
        except RosterRejected as exc:
            field = "csv" if body.csv is not None else "geojson"
            raise Problem(422, str(exc), errors=[FieldError(field, p) for p in exc.problems],
                          code="roster_rejected") from None  # fmt: skip
        return {"version": version, "active": True}

    @router.post(
        "/rosters/{version}/activate",
        summary="Switch to another roster version",
        openapi_extra=can_import.openapi,
        dependencies=[can_import.actor],
    )
    async def activate_roster(
        version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    ) -> dict[str, Any]:
        await rosters_repo().activate(version)
        return {"version": version, "active": True}

    @router.get(
        "/grid-workers",
        summary="The active roster's grid workers, their micro-grids and roles, and their load"
        " (open grid tasks)",
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def list_grid_workers(
        micro_grid: MicroGridCode | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> dict[str, Any]:
        loads = await rosters.worker_loads(
            rosters=rosters_repo(), micro_grid=micro_grid, limit=limit, offset=offset
        )
        return {
            "workers": [
                {
                    "worker_id": w.worker.worker_id,
                    "name": w.worker.name,
                    "micro_grids": list(w.worker.micro_grids),
                    "roles": sorted(w.worker.roles),
                    "open_tasks": w.open_tasks,
                }
                for w in loads
            ]
        }

    @router.get(
        "/grid-tasks",
        summary="The calling grid worker's own grid tasks and assisting tasks, newest first",
        openapi_extra=can_work.openapi,
    )
    async def my_grid_tasks(
        status: Literal["open", "all"] = "open", actor: Actor = can_work.actor
    ) -> dict[str, Any]:
        open_only = status == "open"
        tasks = await grid_tasks.list_grid_tasks(uow=uow(), actor=actor, open_only=open_only)
        helping = await assists.my_assists(uow=uow(), actor=actor, open_only=open_only)
        return {
            "worker_id": actor.grid_worker,
            "tasks": [task_body(t) for t in tasks],
            "assists": [asdict(a) for a in helping],
        }

    @router.post(
        "/grid-tasks/{task_id}/acknowledge",
        summary="The grid worker takes the task (签收)",
        openapi_extra=can_work.openapi,
    )
    async def acknowledge(task_id: TaskId, actor: Actor = can_work.actor) -> dict[str, Any]:
        task = await grid_tasks.acknowledge_grid_task(
            uow=uow(), clock=clock, actor=actor, task_id=task_id
        )
        return task_body(task)

    @router.post(
        "/grid-tasks/{task_id}/settle",
        summary="Settled on the spot, with a note and photos: the case is resolved",
        openapi_extra=can_work.openapi,
    )
    async def settle(
        task_id: TaskId, body: SettleRequest, actor: Actor = can_work.actor
    ) -> dict[str, Any]:
        task = await grid_tasks.settle_grid_task(
            uow=uow(), clock=clock, actor=actor, task_id=task_id, note=body.note,
            photo_urls=body.photo_urls,
        )  # fmt: skip
        return task_body(task)

    @router.post(
        "/grid-tasks/{task_id}/pass-up",
        summary="Passed up (上报) with a reason: routed to the township's lead department",
        openapi_extra=can_work.openapi,
    )
    async def pass_up(
        task_id: TaskId, body: PassUpRequest, actor: Actor = can_work.actor
    ) -> dict[str, Any]:
        task = await grid_tasks.pass_up_grid_task(
            uow=uow(), index=await active_grid.current(), matrix=matrix, clock=clock,
            actor=actor, task_id=task_id, reason=body.reason,
        )  # fmt: skip
        return task_body(task)

    can_ask = allow(authenticate, Role.TOWNSHIP_OFFICIAL, Role.DEPARTMENT_STAFF,
                    bound=("township", "department"))  # fmt: skip

    @router.post(
        "/cases/{case_id}/assist-requests",
        status_code=201,
        summary="The case's township, or a department handling it, asks the micro-grid's"
        " assistant (协管员) to assist on site",
        openapi_extra=can_ask.openapi,
    )
    async def ask_for_assistance(
        case_id: CaseId, body: AssistRequest, actor: Actor = can_ask.actor
    ) -> dict[str, Any]:
        assist = await assists.request_assist(
            uow=uow(), clock=clock, actor=actor, case_id=case_id, note=body.note
        )
        return asdict(assist)

    @router.post(
        "/assist-tasks/{assist_id}/done",
        summary="The assistant (协管员) reports the assistance done",
        openapi_extra=can_work.openapi,
    )
    async def assistance_done(
        assist_id: TaskId, body: AssistReport, actor: Actor = can_work.actor
    ) -> dict[str, Any]:
        assist = await assists.finish_assist(
            uow=uow(), clock=clock, actor=actor, assist_id=assist_id, report=body.report
        )
        return asdict(assist)

    can_read_notices = allow(authenticate, Role.HUB_OPERATOR, Role.TOWNSHIP_OFFICIAL,
                             Role.AUDITOR, Role.ADMINISTRATOR, Role.GRID_WORKER)  # fmt: skip

    @router.post(
        "/cases/{case_id}/notices",
        status_code=201,
        summary="A publicist (宣传员) records a notice brought to the residents of the case's"
        " micro-grid",
        openapi_extra=can_work.openapi,
    )
    async def post_notice(
        case_id: CaseId, body: NoticeRequest, actor: Actor = can_work.actor
    ) -> dict[str, Any]:
        notice = await notices.publish_notice(
            uow=uow(), clock=clock, actor=actor, case_id=case_id, text=body.text
        )
        return asdict(notice)

    @router.get(
        "/cases/{case_id}/notices",
        summary="The notices brought to residents about a case, oldest first",
        openapi_extra=can_read_notices.openapi,
        dependencies=[can_read_notices.actor],
    )
    async def list_notices(case_id: CaseId) -> list[dict[str, Any]]:
        return [asdict(n) for n in await notices.case_notices(uow=uow(), case_id=case_id)]

    return router


def task_body(task: GridTask) -> dict[str, Any]:
    body = asdict(task)
    body["photo_urls"] = list(task.photo_urls)
    return body
