"""Every department has a unit: a layer's unit where the department has a grid layer, else
its office at the township or the county, from the admin tree."""

from __future__ import annotations

from yiwang.common.departments import Department
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.network import DEPARTMENT_LAYERS
from yiwang.grid_routing.domain.offices import TOWNSHIP_OFFICES, offices_for


def test_every_department_has_a_unit_for_every_micro_grid(tiny_index: GridIndex) -> None:
    for ref in tiny_index.micro_grid_refs:
        units = tiny_index.units_of(ref.code)
        assert set(units) == set(Department)
        assert units[Department.PUBLIC_SECURITY] == f"{ref.township_code}:public-security"
        assert units[Department.JUSTICE] == f"{ref.township_code}:justice"
        assert units[Department.HOUSING] == "140399:housing"  # a county bureau
        assert units[Department.URBAN_MANAGEMENT].startswith("140399-CG-")  # its layer


def test_an_area_known_only_by_its_admin_code_gets_offices_too(tiny_index: GridIndex) -> None:
    township = tiny_index.micro_grid_refs[0].township_code
    units = tiny_index.units_of_area(township)
    assert set(units) == set(Department)
    assert units[Department.HEALTH] == f"{township}:health"
    county = tiny_index.units_of_area("140399")
    assert county[Department.HEALTH] == "140399:health"  # no township: the county's office


def test_offices_cover_exactly_the_departments_without_a_layer() -> None:
    offices = offices_for(township_code="140399001", county_code="140399")
    assert set(offices) == set(Department) - set(DEPARTMENT_LAYERS)
    assert {d for d, unit in offices.items() if unit.startswith("140399001:")} == set(
        TOWNSHIP_OFFICES
    )
