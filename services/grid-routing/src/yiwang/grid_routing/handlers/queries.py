"""The HTTP read side: grid set versions, the micro-grid of a point, a case's routing
history. Reads only; a question with no answer raises a domain exception (REFUSALS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yiwang.common.departments import Department
from yiwang.common.events import MicroGridRef
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository, GridSetSummary
from yiwang.grid_routing.adapters.routed_cases import RoutingHistory
from yiwang.grid_routing.domain.errors import NoRoutingHistory, OutsideEveryMicroGrid
from yiwang.grid_routing.domain.index import GridIndex


@dataclass(frozen=True, slots=True)
class Located:
    grid_set: int
    micro_grid: MicroGridRef
    department_units: dict[Department, str]


async def grid_set_versions(*, grid_sets: GridSetRepository) -> list[GridSetSummary]:
    """Every imported version, oldest first, the active one marked."""
    return await grid_sets.summaries()


def locate_point(*, index: GridIndex, lon: float, lat: float) -> Located:
    """The micro-grid containing a WGS-84 point, and its unit in every department layer."""
    found = index.locate(lon, lat)
    if found is None:
        raise OutsideEveryMicroGrid(lon, lat)
    return Located(index.version, found, index.units_of(found.code))


async def case_routing_history(*, history: RoutingHistory, case_id: str) -> list[dict[str, Any]]:
    """A case's routing decisions, oldest first."""
    decisions = await history.of_case(case_id)
    if not decisions:
        raise NoRoutingHistory(case_id)
    return decisions
