"""Finding what is wrong with a grid network: every problem names the features concerned.

Checks: invalid geometry, the tree (one county, parents one level up, children inside
their parent), and per layer (each admin level, each department layer) overlaps and gaps
against the county outline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from yiwang.grid_routing.domain.network import (
    DEPARTMENT_LAYERS,
    LEVELS,
    AdminLevel,
    GridNetwork,
    parent_level,
)
from yiwang.grid_routing.domain.problems import GridProblem, ProblemKind

OVERLAP_TOLERANCE = 1e-6  # share of the smaller unit: below it, a sliver of rounding
GAP_TOLERANCE = 1e-9  # share of the county
OUTSIDE_TOLERANCE = 1e-6  # share of the child
_METRES_PER_DEGREE = 111_320.0


def find_problems(network: GridNetwork) -> list[GridProblem]:
    problems = _invalid_geometries(network)
    broken = {code for p in problems for code in p.ids}
    problems += _tree_problems(network)
    county = network.county
    outline = county.polygon if county is not None and county.code not in broken else None
    layers: list[tuple[str, list[str], list[Any]]] = []
    for level in LEVELS[1:]:
        units = [u for u in network.at_level(level) if u.code not in broken]
        layers.append((f"admin/{level}", [u.code for u in units], [u.polygon for u in units]))
    for department in DEPARTMENT_LAYERS:
        dept_units = [u for u in network.layer(department) if u.code not in broken]
        layers.append(
            (department.value, [u.code for u in dept_units], [u.polygon for u in dept_units])
        )
    for layer, codes, polygons in layers:
        if not codes:
            problems.append(
                GridProblem(ProblemKind.MISSING_LAYER, layer, (layer,), "the layer has no features")
            )
            continue
        overlaps = overlapping_pairs(polygons)
        problems += [
            GridProblem(
                ProblemKind.OVERLAP,
                layer,
                (codes[a], codes[b]),
                f"they overlap on {share:.2%} of the smaller one",
            )
            for a, b, share in overlaps
        ]
        if outline is not None:
            problems += _gaps(layer, codes, polygons, outline, covered_exactly=not overlaps)
    return problems


def overlapping_pairs(polygons: Sequence[Any]) -> list[tuple[int, int, float]]:
    """Pairs (a, b, share of the smaller) whose interiors overlap beyond the tolerance."""
    geoms = np.asarray(polygons, dtype=object)
    left, right = STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    interiors = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[interiors], right[interiors]
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    share = shared / np.maximum(smaller, 1e-30)
    return [
        (int(a), int(b), float(s))
        for a, b, s in zip(left, right, share, strict=True)
        if s > OVERLAP_TOLERANCE
    ]


def uncovered_pieces(polygons: Sequence[Any], outline: Any, *, covered_exactly: bool) -> list[Any]:
    """The parts of `outline` no polygon covers, above the tolerance."""
    geoms = np.asarray(polygons, dtype=object)
    # A coverage union is linear-time but needs non-overlapping input.
    try:
        covered = shapely.coverage_union_all(geoms) if covered_exactly else shapely.union_all(geoms)
    except shapely.errors.GEOSException:  # borders not noded alike: the general union copes
        covered = shapely.union_all(geoms)
    missing = shapely.get_parts(shapely.difference(outline, covered))
    floor = GAP_TOLERANCE * shapely.area(outline)
    return [piece for piece in missing if shapely.area(piece) > floor]


def square_metres(geometry: Any) -> float:
    lat = shapely.get_y(shapely.centroid(geometry))
    return float(shapely.area(geometry) * _METRES_PER_DEGREE**2 * math.cos(math.radians(lat)))


def _gaps(
    layer: str, codes: list[str], polygons: list[Any], outline: Any, *, covered_exactly: bool
) -> list[GridProblem]:
    pieces = uncovered_pieces(polygons, outline, covered_exactly=covered_exactly)
    if not pieces:
        return []
    tree = STRtree(np.asarray(polygons, dtype=object))
    problems = []
    for piece in pieces:
        near = sorted(codes[i] for i in tree.query(piece, predicate="intersects"))
        point = shapely.point_on_surface(piece)
        problems.append(
            GridProblem(
                ProblemKind.GAP,
                layer,
                tuple(near) or ("(none)",),
                f"{square_metres(piece):.0f} m² not covered by any unit, at "
                f"({shapely.get_x(point):.6f}, {shapely.get_y(point):.6f}), next to the units listed",
            )
        )
    return problems


def _invalid_geometries(network: GridNetwork) -> list[GridProblem]:
    units: list[tuple[str, str, Any]] = [
        (f"admin/{u.level}", u.code, u.polygon) for u in network.admin_units
    ] + [(u.department.value, u.code, u.polygon) for u in network.department_units]
    if not units:
        return []
    geoms = np.asarray([g for _, _, g in units], dtype=object)
    valid = shapely.is_valid(geoms) & ~shapely.is_empty(geoms)
    problems = []
    for (layer, code, geometry), ok in zip(units, valid, strict=True):
        if not ok:
            reason = "empty" if shapely.is_empty(geometry) else shapely.is_valid_reason(geometry)
            problems.append(GridProblem(ProblemKind.INVALID_GEOMETRY, layer, (code,), reason))
    return problems


def _tree_problems(network: GridNetwork) -> list[GridProblem]:
    problems: list[GridProblem] = []
    counties = network.at_level(AdminLevel.COUNTY)
    if len(counties) > 1:
        problems.append(
            GridProblem(
                ProblemKind.MALFORMED,
                "admin/county",
                tuple(c.code for c in counties),
                "more than one county",
            )
        )
    by_code = {u.code: u for u in network.admin_units}
    children, parents = [], []
    for unit in network.admin_units:
        expected = parent_level(unit.level)
        if expected is None:
            continue
        layer = f"admin/{unit.level}"
        parent = by_code.get(unit.parent_code or "")
        if unit.parent_code is None:
            reason = f"it has no parent_code; a {unit.level} belongs to a {expected}"
        elif parent is None:
            reason = f"its parent '{unit.parent_code}' is not in the file"
        elif parent.level is not expected:
            reason = f"its parent '{parent.code}' is a {parent.level}, not a {expected}"
        else:
            children.append(unit)
            parents.append(parent)
            continue
        problems.append(GridProblem(ProblemKind.ORPHAN, layer, (unit.code,), reason))
    if children:
        child_geoms = np.asarray([c.polygon for c in children], dtype=object)
        parent_geoms = np.asarray([p.polygon for p in parents], dtype=object)
        usable = shapely.is_valid(child_geoms) & shapely.is_valid(parent_geoms)
        outside = np.zeros(len(children))
        outside[usable] = shapely.area(
            shapely.difference(child_geoms[usable], parent_geoms[usable])
        ) / np.maximum(shapely.area(child_geoms[usable]), 1e-30)
        for child, parent, share in zip(children, parents, outside, strict=True):
            if share > OUTSIDE_TOLERANCE:
                problems.append(
                    GridProblem(
                        ProblemKind.OUTSIDE_PARENT,
                        f"admin/{child.level}",
                        (child.code, parent.code),
                        f"{share:.2%} of it lies outside its parent",
                    )
                )
    return problems
