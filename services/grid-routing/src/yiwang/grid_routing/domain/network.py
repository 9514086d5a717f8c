"""The one network as the domain sees it: the admin tree and the department layers.

Polygons are shapely geometries (Polygon or MultiPolygon) in WGS-84 lon/lat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from yiwang.common.departments import Department

ADMIN_LAYER = "admin"


class AdminLevel(StrEnum):
    COUNTY = "county"
    TOWNSHIP = "township"  # township or street (乡镇/街道)
    COMMUNITY = "community"  # village or community (村/社区)
    GRID = "grid"  # 网格
    MICRO_GRID = "micro_grid"  # 微网格: 30-50 households


LEVELS: tuple[AdminLevel, ...] = tuple(AdminLevel)

# The department layers the reform merged into one network; every grid set carries them.
DEPARTMENT_LAYERS: tuple[Department, ...] = (
    Department.COMPREHENSIVE_GOVERNANCE,
    Department.CIVIL_AFFAIRS,
    Department.PETITION,
    Department.MARKET_SUPERVISION,
    Department.URBAN_MANAGEMENT,
    Department.EMERGENCY_MANAGEMENT,
)


def parent_level(level: AdminLevel) -> AdminLevel | None:
    index = LEVELS.index(level)
    return LEVELS[index - 1] if index else None


@dataclass(frozen=True, slots=True)
class AdminUnit:
    code: str
    level: AdminLevel
    name: str
    parent_code: str | None
    polygon: Any  # shapely Polygon | MultiPolygon
    households: int | None = None


@dataclass(frozen=True, slots=True)
class DepartmentUnit:
    department: Department
    code: str
    name: str
    polygon: Any


@dataclass(frozen=True, slots=True)
class OverlayLink:
    """A micro-grid and the unit of one department layer that covers most of it."""

    micro_grid_code: str
    department: Department
    unit_code: str
    share: float  # fraction of the micro-grid's area inside that unit


@dataclass(frozen=True)
class GridNetwork:
    admin_units: tuple[AdminUnit, ...]
    department_units: tuple[DepartmentUnit, ...]
    overlay: tuple[OverlayLink, ...] = ()
    _by_level: dict[AdminLevel, list[AdminUnit]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def at_level(self, level: AdminLevel) -> list[AdminUnit]:
        if not self._by_level:
            for unit in self.admin_units:
                self._by_level.setdefault(unit.level, []).append(unit)
        return self._by_level.get(level, [])

    def layer(self, department: Department) -> list[DepartmentUnit]:
        return [u for u in self.department_units if u.department is department]

    @property
    def micro_grids(self) -> list[AdminUnit]:
        return self.at_level(AdminLevel.MICRO_GRID)

    @property
    def county(self) -> AdminUnit | None:
        counties = self.at_level(AdminLevel.COUNTY)
        return counties[0] if len(counties) == 1 else None
