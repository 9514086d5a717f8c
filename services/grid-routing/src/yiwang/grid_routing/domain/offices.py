"""Every department has a unit. The six departments merged into the one network have
layers of their own (the overlay gives each micro-grid its unit); the others have no grid
layer, so their unit is their office serving the place, from the admin tree: a township
office (派出所, 司法所, ...) where the department keeps one in every township, else the
county bureau."""

from __future__ import annotations

from yiwang.common.departments import Department
from yiwang.grid_routing.domain.network import DEPARTMENT_LAYERS

# Departments with an office in every township (乡镇/街道); the rest serve from the county.
TOWNSHIP_OFFICES: dict[Department, str] = {
    Department.PUBLIC_SECURITY: "派出所",
    Department.JUSTICE: "司法所",
    Department.HEALTH: "卫生院",
    Department.HUMAN_RESOURCES: "劳动保障所",
    Department.NATURAL_RESOURCES: "自然资源所",
}
WITHOUT_LAYER: tuple[Department, ...] = tuple(d for d in Department if d not in DEPARTMENT_LAYERS)


def office_code(department: Department, area_code: str) -> str:
    """The unit code of a department's office for an admin area: `<area>:<department>`."""
    return f"{area_code}:{department.value}"


def offices_for(*, township_code: str | None, county_code: str) -> dict[Department, str]:
    """The units of the departments without a grid layer, for a place in `township_code`
    (None: known only to the county) of `county_code`."""
    units: dict[Department, str] = {}
    for department in WITHOUT_LAYER:
        township = township_code if department in TOWNSHIP_OFFICES else None
        area = township or county_code
        if area:
            units[department] = office_code(department, area)
    return units
