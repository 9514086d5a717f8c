"""HTTP read side: grid set versions, a point lookup and a case's routing history."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from yiwang.common.service import Runtime
from yiwang.grid_routing.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import PostgresGridSetRepository
from yiwang.grid_routing.adapters.routed_cases import routing_history


def http_router(runtime: Runtime, *, active_grid: ActiveGrid) -> APIRouter:
    router = APIRouter(tags=["grid-routing"])

    @router.get("/grid-sets")
    async def list_grid_sets() -> list[dict[str, Any]]:
        summaries = await PostgresGridSetRepository(runtime.pool).summaries()
        return [asdict(s) for s in summaries]

    @router.get("/locate")
    async def locate(
        lon: Annotated[float, Query(ge=-180, le=180)],
        lat: Annotated[float, Query(ge=-90, le=90)],
    ) -> dict[str, Any]:
        index = await active_grid.current(wait_seconds=5)
        found = index.locate(lon, lat)
        if found is None:
            raise HTTPException(404, f"({lon}, {lat}) lies outside every micro-grid")
        return {
            "grid_set": index.version,
            "micro_grid": found.model_dump(),
            "department_units": index.units_of(found.code),
        }

    @router.get("/cases/{case_id}/routing")
    async def case_routing(case_id: str) -> list[dict[str, Any]]:
        history = await routing_history(runtime.pool, case_id)
        if not history:
            raise HTTPException(404, f"case_id: grid-routing has not routed case {case_id}")
        return history

    return router
