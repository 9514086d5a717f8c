"""A synthetic county in Shanxi (around Yangquan), seeded and deterministic.

Micro-grids are the cells of a jittered lattice; grids, communities and townships are
guillotine partitions of that lattice, so every level tiles the county exactly (shared
vertices are the same numbers, hence no gaps or overlaps). Department layers cut the
county along their own lines, which do not follow the admin tree: a micro-grid can
straddle two units of a department, which is what the overlay resolves.
"""

from __future__ import annotations

import math
import random
from typing import Any

from yiwang.common.departments import Department
from yiwang.common.events import WorkerRole
from yiwang.grid_routing.domain.network import ADMIN_LAYER, DEPARTMENT_LAYERS, AdminLevel
from yiwang.grid_routing.domain.presets import (
    COMMUNITY_WORDS,
    GIVEN_NAMES,
    LAYER_NAMES,
    LAYER_SCALE,
    MICRO_GRIDS_PER_WORKER,
    PRESETS,
    SURNAMES,
    TOWNSHIP_NAMES,
    Preset,
)

FeatureCollection = dict[str, Any]
Rect = tuple[int, int, int, int]  # cell columns [i0, i1) x rows [j0, j1)


class UnknownPreset(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")


def generate_county(preset_name: str, *, seed: int = 7) -> dict[str, FeatureCollection]:
    """The county as GeoJSON FeatureCollections: 'admin' and one per department layer."""
    preset = PRESETS.get(preset_name)
    if preset is None:
        raise UnknownPreset(preset_name)
    rng = random.Random(f"{preset.name}:{seed}")
    lattice = _Lattice(preset, rng)
    collections = {ADMIN_LAYER: _collection(_admin_features(preset, lattice, rng))}
    for department in DEPARTMENT_LAYERS:
        collections[department.value] = _collection(_department_features(preset, department, rng))
    return collections


class _Lattice:
    """Vertex (i, j) of the micro-grid lattice; inner vertices are jittered."""

    def __init__(self, preset: Preset, rng: random.Random) -> None:
        west, south, east, north = preset.bbox
        dx, dy = (east - west) / preset.columns, (north - south) / preset.rows
        self.vertices: dict[tuple[int, int], list[float]] = {}
        for i in range(preset.columns + 1):
            for j in range(preset.rows + 1):
                inner_x = 0 < i < preset.columns
                inner_y = 0 < j < preset.rows
                x = west + i * dx + (rng.uniform(-0.2, 0.2) * dx if inner_x and inner_y else 0)
                y = south + j * dy + (rng.uniform(-0.2, 0.2) * dy if inner_x and inner_y else 0)
                self.vertices[i, j] = [round(x, 7), round(y, 7)]

    def ring(self, rect: Rect) -> list[list[float]]:
        """The counter-clockwise outline of a rectangle of cells, through every vertex."""
        i0, j0, i1, j1 = rect
        path = [(i, j0) for i in range(i0, i1)]
        path += [(i1, j) for j in range(j0, j1)]
        path += [(i, j1) for i in range(i1, i0, -1)]
        path += [(i0, j) for j in range(j1, j0, -1)]
        points = [self.vertices[p] for p in path]
        return [*points, points[0]]


def _admin_features(preset: Preset, lattice: _Lattice, rng: random.Random) -> list[Any]:
    whole: Rect = (0, 0, preset.columns, preset.rows)
    features = [
        _feature(
            lattice.ring(whole), AdminLevel.COUNTY, preset.county_code, preset.county_name, None
        )
    ]
    townships = _split(whole, preset.townships, rng)
    community_counts = _distribute(preset.communities, townships)
    community_rects: list[tuple[str, str, Rect]] = []
    for t, (rect, count) in enumerate(zip(townships, community_counts, strict=True), start=1):
        code = f"{preset.county_code}{t:03d}"
        name = f"{TOWNSHIP_NAMES[(t - 1) % len(TOWNSHIP_NAMES)]}{preset.township_suffix}"
        features.append(
            _feature(lattice.ring(rect), AdminLevel.TOWNSHIP, code, name, preset.county_code)
        )
        for c, sub in enumerate(_split(rect, count, rng), start=1):
            community_rects.append((code, f"{code}{c:03d}", sub))
    grid_counts = _distribute(preset.grids, [r for _, _, r in community_rects])
    for (township, code, rect), count in zip(community_rects, grid_counts, strict=True):
        word = COMMUNITY_WORDS[int(code[-3:]) % len(COMMUNITY_WORDS)]
        community_name = f"{word}{int(code[-3:])}社区"
        features.append(
            _feature(lattice.ring(rect), AdminLevel.COMMUNITY, code, community_name, township)
        )
        for g, grid in enumerate(_split(rect, count, rng), start=1):
            grid_code = f"{code}{g:03d}"
            features.append(
                _feature(
                    lattice.ring(grid),
                    AdminLevel.GRID,
                    grid_code,
                    f"{community_name}第{g}网格",
                    code,
                )
            )
            cells = [(i, j) for j in range(grid[1], grid[3]) for i in range(grid[0], grid[2])]
            if len(cells) > 99:
                raise ValueError(f"grid {grid_code} has {len(cells)} micro-grids; at most 99")
            for m, (i, j) in enumerate(cells, start=1):
                features.append(
                    _feature(
                        lattice.ring((i, j, i + 1, j + 1)),
                        AdminLevel.MICRO_GRID,
                        f"{grid_code}{m:02d}",
                        f"{community_name}第{g}网格第{m}微网格",
                        grid_code,
                        households=rng.randint(30, 50),
                    )
                )
    return features


def _department_features(preset: Preset, department: Department, rng: random.Random) -> list[Any]:
    west, south, east, north = preset.bbox
    zones = max(2, round(preset.zones * LAYER_SCALE[department]))
    columns = max(1, round(math.sqrt(zones * (east - west) / (north - south))))
    rows = max(1, math.ceil(zones / columns))
    xs = _cuts(west, east, columns, rng)
    ys = _cuts(south, north, rows, rng)
    prefix, label = LAYER_NAMES[department]
    features = []
    for r in range(rows):
        for c in range(columns):
            n = r * columns + c + 1
            x0, x1, y0, y1 = xs[c], xs[c + 1], ys[r], ys[r + 1]
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "layer": department.value,
                        "code": f"{preset.county_code}-{prefix}-{n:03d}",
                        "name": f"{label}{n}",
                    },
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return features


def _cuts(low: float, high: float, parts: int, rng: random.Random) -> list[float]:
    """Cut positions that follow neither the lattice nor each other's layers."""
    step = (high - low) / parts
    inner = [round(low + (k + rng.uniform(-0.3, 0.3)) * step, 7) for k in range(1, parts)]
    return [low, *inner, high]


def _split(rect: Rect, parts: int, rng: random.Random) -> list[Rect]:
    """Guillotine-split a rectangle of cells into `parts` rectangles of at least one cell."""
    if parts == 1:
        return [rect]
    i0, j0, i1, j1 = rect
    first = parts // 2
    width, height = i1 - i0, j1 - j0
    along_columns = width >= height
    length, across = (width, height) if along_columns else (height, width)
    share = first / parts * rng.uniform(0.85, 1.15)
    low, high = math.ceil(first / across), length - math.ceil((parts - first) / across)
    if low > high:
        raise ValueError(f"cannot split {rect} into {parts} parts")
    cut = min(max(round(length * share), low), high)
    if along_columns:
        a, b = (i0, j0, i0 + cut, j1), (i0 + cut, j0, i1, j1)
    else:
        a, b = (i0, j0, i1, j0 + cut), (i0, j0 + cut, i1, j1)
    return _split(a, first, rng) + _split(b, parts - first, rng)


def _distribute(total: int, rects: list[Rect]) -> list[int]:
    """Share `total` among rectangles by area (largest remainder), at least one each."""
    areas = [(r[2] - r[0]) * (r[3] - r[1]) for r in rects]
    whole = sum(areas)
    exact = [max(1.0, total * a / whole) for a in areas]
    counts = [min(int(e), a) for e, a in zip(exact, areas, strict=True)]
    order = sorted(range(len(rects)), key=lambda k: exact[k] - int(exact[k]), reverse=True)
    for k in order:
        if sum(counts) >= total:
            break
        if counts[k] < areas[k]:
            counts[k] += 1
    return counts


def _feature(
    ring: list[list[float]],
    level: AdminLevel,
    code: str,
    name: str,
    parent_code: str | None,
    *,
    households: int | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "layer": ADMIN_LAYER,
        "level": level.value,
        "code": code,
        "name": name,
        "parent_code": parent_code,
    }
    if households is not None:
        properties["households"] = households
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _collection(features: list[Any]) -> FeatureCollection:
    return {"type": "FeatureCollection", "features": features}


def synthetic_roster(admin: FeatureCollection, *, seed: int = 7) -> list[dict[str, Any]]:
    """The grid workers of a synthetic county (its admin layer): each grid's micro-grids
    shared out in runs of up to MICRO_GRIDS_PER_WORKER, one worker each, with all five
    roles (五大员). Ids are `gw-<grid code>-<n>`, the same for every run."""
    by_grid: dict[str, list[str]] = {}
    for feature in admin["features"]:
        properties = feature["properties"]
        if properties.get("level") == AdminLevel.MICRO_GRID.value:
            by_grid.setdefault(properties["parent_code"], []).append(properties["code"])
    rng = random.Random(f"roster:{seed}")
    roles = ";".join(r.value for r in WorkerRole)
    rows: list[dict[str, Any]] = []
    for grid_code in sorted(by_grid):
        codes = sorted(by_grid[grid_code])
        for n, start in enumerate(range(0, len(codes), MICRO_GRIDS_PER_WORKER), start=1):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
            rows.append(
                {
                    "worker_id": f"gw-{grid_code}-{n}",
                    "name": name,
                    "micro_grids": ";".join(codes[start : start + MICRO_GRIDS_PER_WORKER]),
                    "roles": roles,
                }
            )
    return rows
