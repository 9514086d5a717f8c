"""HTTP read side: grid set versions, a point lookup and a case's routing history.

Routes decode, call a query handler and encode; what a handler refuses is answered as
problem details through `REFUSALS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from yiwang.common.problems import Refusal
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.routed_cases import RoutingHistory
from yiwang.grid_routing.domain.errors import NoRoutingHistory, OutsideEveryMicroGrid
from yiwang.grid_routing.handlers import queries

# A lookup waits this long for the first grid index to load.
LOCATE_WAIT_SECONDS = 5.0

REFUSALS: dict[type[Exception], Refusal] = {
    OutsideEveryMicroGrid: Refusal(404, field="(point)"),
    NoRoutingHistory: Refusal(404, field="case_id"),
}


def http_router(
    *,
    active_grid: ActiveGrid,
    grid_sets: Callable[[], GridSetRepository],
    history: Callable[[], RoutingHistory],
) -> APIRouter:
    router = APIRouter(tags=["grid-routing"])

    @router.get("/grid-sets")
    async def list_grid_sets() -> list[dict[str, Any]]:
        summaries = await queries.grid_set_versions(grid_sets=grid_sets())
        return [asdict(s) for s in summaries]

    @router.get("/locate")
    async def locate(
        lon: Annotated[float, Query(ge=-180, le=180)],
        lat: Annotated[float, Query(ge=-90, le=90)],
    ) -> dict[str, Any]:
        index = await active_grid.current(wait_seconds=LOCATE_WAIT_SECONDS)
        found = queries.locate_point(index=index, lon=lon, lat=lat)
        return {
            "grid_set": found.grid_set,
            "micro_grid": found.micro_grid.model_dump(),
            "department_units": found.department_units,
        }

    @router.get("/cases/{case_id}/routing")
    async def case_routing(case_id: str) -> list[dict[str, Any]]:
        return await queries.case_routing_history(history=history(), case_id=case_id)

    return router
