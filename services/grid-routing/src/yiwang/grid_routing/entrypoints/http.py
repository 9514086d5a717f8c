"""HTTP read side: grid set versions, a point lookup and a case's routing history.

Routes decode, call a query handler and encode; what a handler refuses is answered as
problem details through `REFUSALS`. Who may call what is declared on each route (`allow`,
shown in the OpenAPI document as `x-yiwang-access`): every person who signs in may read
the grid (its versions, which micro-grid holds a point); a case's routing decisions are for
the county hub, auditors and administrators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate, Role
from yiwang.common.problems import Refusal
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.rosters import UnknownRoster
from yiwang.grid_routing.adapters.routed_cases import RoutingHistory
from yiwang.grid_routing.domain.assists import (
    AssistTaskDone,
    AssistTaskUnknown,
    NoAssistant,
    NotHandlingTheCase,
    NotTheAssistant,
)
from yiwang.grid_routing.domain.errors import NoGridSet, NoRoutingHistory, OutsideEveryMicroGrid
from yiwang.grid_routing.domain.grid_tasks import (
    GridTaskClosed,
    GridTaskUnknown,
    NotServingMicroGrid,
)
from yiwang.grid_routing.domain.notices import CaseNotInAMicroGrid, NotThePublicist
from yiwang.grid_routing.handlers import queries

# A lookup waits this long for the first grid index to load.
LOCATE_WAIT_SECONDS = 5.0

REFUSALS: dict[type[Exception], Refusal] = {
    OutsideEveryMicroGrid: Refusal(404, field="(point)"),
    NoRoutingHistory: Refusal(404, field="case_id"),
    GridTaskUnknown: Refusal(404, field="task_id"),
    GridTaskClosed: Refusal(409, field="task_id", code="grid_task_closed"),
    NotServingMicroGrid: Refusal(403, field="task_id", code="not_serving_micro_grid"),
    UnknownRoster: Refusal(404, field="version"),
    CaseNotInAMicroGrid: Refusal(404, field="case_id"),
    AssistTaskUnknown: Refusal(404, field="assist_id"),
    AssistTaskDone: Refusal(409, field="assist_id", code="assist_task_done"),
    NoAssistant: Refusal(409, field="case_id", code="no_assistant"),
    NotTheAssistant: Refusal(403, field="assist_id", code="not_the_assistant"),
    NotHandlingTheCase: Refusal(403, field="case_id", code="not_handling_the_case"),
    NotThePublicist: Refusal(403, field="case_id", code="not_the_publicist"),
    NoGridSet: Refusal(409, field="roster"),
}

# Every role a person signs in with (machines have no keys at grid-routing).
PEOPLE = (
    Role.HUB_OPERATOR,
    Role.TOWNSHIP_OFFICIAL,
    Role.DEPARTMENT_STAFF,
    Role.MEDIATOR,
    Role.HOTLINE_OPERATOR,
    Role.AUDITOR,
    Role.ADMINISTRATOR,
    Role.GRID_WORKER,
)
CaseId = Annotated[str, Path(min_length=1, max_length=128)]
# A finite WGS-84 coordinate (NaN and infinities fail the bounds).
Longitude = Annotated[float, Query(ge=-180, le=180)]
Latitude = Annotated[float, Query(ge=-90, le=90)]


def http_router(
    *,
    active_grid: ActiveGrid,
    grid_sets: Callable[[], GridSetRepository],
    history: Callable[[], RoutingHistory],
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(tags=["grid-routing"])
    can_read_grid = allow(authenticate, *PEOPLE)
    can_read_routing = allow(authenticate, Role.HUB_OPERATOR, Role.AUDITOR, Role.ADMINISTRATOR)

    @router.get(
        "/grid-sets",
        summary="Every imported grid set version, the active one marked",
        openapi_extra=can_read_grid.openapi,
        dependencies=[can_read_grid.actor],
    )
    async def list_grid_sets() -> list[dict[str, Any]]:
        summaries = await queries.grid_set_versions(grid_sets=grid_sets())
        return [asdict(s) for s in summaries]

    @router.get(
        "/locate",
        summary="The micro-grid holding a point, and its unit in every department layer",
        openapi_extra=can_read_grid.openapi,
        dependencies=[can_read_grid.actor],
    )
    async def locate(lon: Longitude, lat: Latitude) -> dict[str, Any]:
        index = await active_grid.current(wait_seconds=LOCATE_WAIT_SECONDS)
        found = queries.locate_point(index=index, lon=lon, lat=lat)
        return {
            "grid_set": found.grid_set,
            "micro_grid": found.micro_grid.model_dump(),
            "department_units": found.department_units,
        }

    @router.get(
        "/cases/{case_id}/routing",
        summary="A case's routing decisions, oldest first, each with its rule and reason",
        openapi_extra=can_read_routing.openapi,
        dependencies=[can_read_routing.actor],
    )
    async def case_routing(case_id: CaseId) -> list[dict[str, Any]]:
        return await queries.case_routing_history(history=history(), case_id=case_id)

    return router
