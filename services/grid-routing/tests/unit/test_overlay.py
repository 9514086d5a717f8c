from __future__ import annotations

import shapely
from yiwang.common.departments import Department
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.network import (
    DEPARTMENT_LAYERS,
    AdminLevel,
    AdminUnit,
    DepartmentUnit,
    GridNetwork,
)
from yiwang.grid_routing.domain.overlay import compute_overlay

MS = Department.MARKET_SUPERVISION


def test_a_micro_grid_belongs_to_the_unit_covering_most_of_it() -> None:
    network = GridNetwork(
        admin_units=(
            AdminUnit("m1", AdminLevel.MICRO_GRID, "m1", "g", shapely.box(0, 0, 1, 1)),
            AdminUnit("m2", AdminLevel.MICRO_GRID, "m2", "g", shapely.box(1, 0, 2, 1)),
        ),
        department_units=(
            DepartmentUnit(MS, "west", "west", shapely.box(0, 0, 1.3, 1)),
            DepartmentUnit(MS, "east", "east", shapely.box(1.3, 0, 2, 1)),
        ),
    )
    links = {
        (link.micro_grid_code, link.unit_code): link.share for link in compute_overlay(network)
    }
    assert links.keys() == {("m1", "west"), ("m2", "east")}
    assert round(links["m1", "west"], 6) == 1.0
    assert round(links["m2", "east"], 6) == 0.7


def test_the_overlay_of_the_generated_county_matches_a_brute_force_largest_area(
    tiny_index: GridIndex, tiny_collections: dict[str, object]
) -> None:
    from yiwang.grid_routing.domain.geojson import read_feature_collections

    network, _ = read_feature_collections(tiny_collections.items())  # type: ignore[attr-defined]
    for micro_grid in network.micro_grids:
        units = tiny_index.units_of(micro_grid.code)
        assert set(DEPARTMENT_LAYERS) <= set(units)
        for department in DEPARTMENT_LAYERS:
            best = max(
                network.layer(department),
                key=lambda u: shapely.area(shapely.intersection(u.polygon, micro_grid.polygon)),
            )
            assert units[department] == best.code
