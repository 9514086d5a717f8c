from __future__ import annotations

from typing import Any

import pytest
import shapely
from shapely.geometry import mapping, shape
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.problems import GridProblem, GridSetRejected, ProblemKind
from yiwang.grid_routing.domain.validation import find_problems

Collections = dict[str, Any]


def _micro_grids(collections: Collections) -> list[dict[str, Any]]:
    return [f for f in collections["admin"]["features"] if f["properties"]["level"] == "micro_grid"]


def _rejected(collections: Collections) -> list[GridProblem]:
    with pytest.raises(GridSetRejected) as caught:
        check_grid_set(collections.items())
    return caught.value.problems


def _find(problems: list[GridProblem], kind: ProblemKind) -> list[GridProblem]:
    return [p for p in problems if p.kind is kind]


def _bowtie(feature: dict[str, Any]) -> None:
    a, b, c, d, _ = feature["geometry"]["coordinates"][0][:1] + _corners(feature)
    feature["geometry"]["coordinates"] = [[a, c, b, d, a]]


def _corners(feature: dict[str, Any]) -> list[list[float]]:
    ring = feature["geometry"]["coordinates"][0]
    return [ring[1], ring[2], ring[3], ring[0]]


def test_the_generated_county_imports_cleanly(tiny_collections: Collections) -> None:
    network, repairs = check_grid_set(tiny_collections.items())
    assert repairs == []
    assert len(network.micro_grids) == 48
    assert len(network.overlay) == 48 * 6


def test_a_self_intersecting_polygon_is_named(tiny_collections: Collections) -> None:
    victim = _micro_grids(tiny_collections)[5]
    _bowtie(victim)
    [invalid] = _find(_rejected(tiny_collections), ProblemKind.INVALID_GEOMETRY)
    assert invalid.ids == (victim["properties"]["code"],)
    assert invalid.layer == "admin/micro_grid"
    assert "Self-intersection" in invalid.detail


def test_an_overlap_within_a_layer_names_both_units(tiny_collections: Collections) -> None:
    first, second = tiny_collections["market-supervision"]["features"][:2]
    grown = shape(first["geometry"]).buffer(0.001, join_style="mitre")
    first["geometry"] = mapping(shapely.intersection(grown, shape(tiny_bbox(tiny_collections))))
    overlaps = _find(_rejected(tiny_collections), ProblemKind.OVERLAP)
    assert (first["properties"]["code"], second["properties"]["code"]) in [p.ids for p in overlaps]
    assert all(p.layer == "market-supervision" for p in overlaps)


def tiny_bbox(collections: Collections) -> dict[str, Any]:
    county = collections["admin"]["features"][0]
    return dict(county["geometry"])


def test_a_gap_names_the_units_around_it(tiny_collections: Collections) -> None:
    features = tiny_collections["admin"]["features"]
    removed = _micro_grids(tiny_collections)[20]
    features.remove(removed)
    hole = shape(removed["geometry"])
    neighbours = {
        f["properties"]["code"]
        for f in _micro_grids(tiny_collections)
        if shape(f["geometry"]).intersects(hole)
    }
    [gap] = _find(_rejected(tiny_collections), ProblemKind.GAP)
    assert gap.layer == "admin/micro_grid"
    assert set(gap.ids) == neighbours
    assert "m² not covered by any unit" in gap.detail


def test_orphans_are_named_with_what_is_wrong(tiny_collections: Collections) -> None:
    lost, misplaced = _micro_grids(tiny_collections)[:2]
    lost["properties"]["parent_code"] = "140399999999999"
    township = next(
        f for f in tiny_collections["admin"]["features"] if f["properties"]["level"] == "township"
    )
    misplaced["properties"]["parent_code"] = township["properties"]["code"]
    orphans = {p.ids: p.detail for p in _find(_rejected(tiny_collections), ProblemKind.ORPHAN)}
    assert orphans == {
        (lost["properties"]["code"],): "its parent '140399999999999' is not in the file",
        (misplaced["properties"]["code"],): (
            f"its parent '{township['properties']['code']}' is a township, not a grid"
        ),
    }


def test_malformed_features_and_missing_layers_are_named(tiny_collections: Collections) -> None:
    del tiny_collections["petition"]
    tiny_collections["admin"]["features"][3]["geometry"] = {"type": "Point", "coordinates": [1, 2]}
    code = tiny_collections["admin"]["features"][3]["properties"]["code"]
    problems = _rejected(tiny_collections)
    [missing] = _find(problems, ProblemKind.MISSING_LAYER)
    assert missing.layer == "petition"
    [malformed] = _find(problems, ProblemKind.MALFORMED)
    assert malformed.ids == (f"{code} (admin#3)",)
    assert malformed.detail == "geometry must be Polygon or MultiPolygon, not Point"


def test_the_refusal_lists_every_problem_with_ids(tiny_collections: Collections) -> None:
    victim = _micro_grids(tiny_collections)[7]
    _bowtie(victim)
    with pytest.raises(GridSetRejected, match="repair=True") as caught:
        check_grid_set(tiny_collections.items())
    assert f"invalid-geometry in admin/micro_grid [{victim['properties']['code']}]" in str(
        caught.value
    )


def test_repair_on_request_fixes_invalid_overlapping_gapped_and_orphaned_units(
    tiny_collections: Collections,
) -> None:
    micro_grids = _micro_grids(tiny_collections)
    _bowtie(micro_grids[5])
    tiny_collections["admin"]["features"].remove(micro_grids[20])
    micro_grids[30]["properties"]["parent_code"] = None
    grown = shape(micro_grids[40]["geometry"]).buffer(0.0003, join_style="mitre")
    micro_grids[40]["geometry"] = mapping(grown)
    network, repairs = check_grid_set(tiny_collections.items(), repair=True)
    assert find_problems(network) == []
    code = micro_grids[30]["properties"]["code"]
    assert f"admin/micro_grid {code}: orphan attached to {code[:-2]}" in repairs
    assert any("made valid" in r for r in repairs)
    assert any("gap next to it filled" in r for r in repairs)
    assert any("cut out" in r or "clipped" in r for r in repairs)
    assert len(network.overlay) == 47 * 6
