"""Repairing a grid network on request: what an operator would otherwise fix by hand.

In order: make invalid polygons valid, re-attach orphans to the unit one level up that
contains them, clip children to their parent, cut overlaps out of the later unit (by
code), and give each gap to the neighbour sharing the longest border with it. Whatever
cannot be repaired stays a problem, and the import is still refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from yiwang.grid_routing.domain.network import (
    DEPARTMENT_LAYERS,
    LEVELS,
    AdminUnit,
    GridNetwork,
    parent_level,
)
from yiwang.grid_routing.domain.validation import (
    OUTSIDE_TOLERANCE,
    overlapping_pairs,
    uncovered_pieces,
)


def repair_network(network: GridNetwork) -> tuple[GridNetwork, list[str]]:
    """Return the repaired network and one line per repair made."""
    repairs: list[str] = []
    admin = {u.code: _made_valid(u, repairs, f"admin/{u.level}") for u in network.admin_units}
    departments = [_made_valid(u, repairs, u.department.value) for u in network.department_units]
    for level in LEVELS[1:]:
        above = parent_level(level)
        parents = {c: u for c, u in admin.items() if u.level is above}
        level_codes = sorted(c for c, u in admin.items() if u.level is level)
        for code in level_codes:
            admin[code] = _attached(admin[code], parents, repairs)
        for code in level_codes:
            admin[code] = _clipped(admin[code], parents, repairs)
        _cut_overlaps(admin, level_codes, f"admin/{level}", repairs)
        for parent in parents.values():
            children = [c for c in level_codes if admin[c].parent_code == parent.code]
            if children:
                _fill_gaps(admin, children, parent.polygon, f"admin/{level}", repairs)
    county = GridNetwork(tuple(admin.values()), ()).county
    by_key = {(u.department, u.code): u for u in departments}
    for department in DEPARTMENT_LAYERS:
        codes = sorted(code for (d, code) in by_key if d is department)
        layer = {code: by_key[department, code] for code in codes}
        _cut_overlaps(layer, codes, department.value, repairs)
        if county is not None and codes:
            _fill_gaps(layer, codes, county.polygon, department.value, repairs)
        by_key.update({(department, c): u for c, u in layer.items()})
    repaired = GridNetwork(
        admin_units=tuple(admin.values()), department_units=tuple(by_key.values())
    )
    return repaired, repairs


def _polygonal(geometry: Any) -> Any:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _made_valid(unit: Any, repairs: list[str], layer: str) -> Any:
    if shapely.is_valid(unit.polygon) and not shapely.is_empty(unit.polygon):
        return unit
    fixed = _polygonal(shapely.make_valid(unit.polygon))
    repairs.append(f"{layer} {unit.code}: made valid ({shapely.is_valid_reason(unit.polygon)})")
    return dataclasses.replace(unit, polygon=fixed)


def _attached(unit: AdminUnit, parents: dict[str, AdminUnit], repairs: list[str]) -> AdminUnit:
    if unit.parent_code in parents or shapely.is_empty(unit.polygon):
        return unit
    inside = shapely.point_on_surface(unit.polygon)
    for parent in parents.values():
        if shapely.covers(parent.polygon, inside):
            repairs.append(f"admin/{unit.level} {unit.code}: orphan attached to {parent.code}")
            return dataclasses.replace(unit, parent_code=parent.code)
    return unit


def _clipped(unit: AdminUnit, parents: dict[str, AdminUnit], repairs: list[str]) -> AdminUnit:
    parent = parents.get(unit.parent_code or "")
    if parent is None or shapely.is_empty(unit.polygon):
        return unit
    outside = shapely.area(shapely.difference(unit.polygon, parent.polygon))
    if outside <= OUTSIDE_TOLERANCE * shapely.area(unit.polygon):
        return unit
    repairs.append(f"admin/{unit.level} {unit.code}: clipped to its parent {parent.code}")
    return dataclasses.replace(
        unit, polygon=_polygonal(shapely.intersection(unit.polygon, parent.polygon))
    )


def _cut_overlaps(units: dict[str, Any], codes: list[str], layer: str, repairs: list[str]) -> None:
    if len(codes) < 2:
        return
    for a, b in [(a, b) for a, b, _ in overlapping_pairs([units[c].polygon for c in codes])]:
        first, later = units[codes[a]], units[codes[b]]
        cut = _polygonal(shapely.difference(later.polygon, first.polygon))
        units[codes[b]] = dataclasses.replace(later, polygon=cut)
        repairs.append(f"{layer} {later.code}: overlap with {first.code} cut out")


def _fill_gaps(
    units: dict[str, Any], codes: list[str], outline: Any, layer: str, repairs: list[str]
) -> None:
    polygons = [units[c].polygon for c in codes]
    for piece in uncovered_pieces(polygons, outline, covered_exactly=False):
        tree = STRtree(np.asarray([units[c].polygon for c in codes], dtype=object))
        near = tree.query(piece, predicate="intersects")
        if len(near) == 0:
            continue
        border = shapely.boundary(piece)
        shared = [
            shapely.length(shapely.intersection(border, units[codes[i]].polygon)) for i in near
        ]
        winner = units[codes[near[int(np.argmax(shared))]]]
        merged = _polygonal(shapely.union(winner.polygon, piece))
        units[winner.code] = dataclasses.replace(winner, polygon=merged)
        repairs.append(f"{layer} {winner.code}: gap next to it filled")
