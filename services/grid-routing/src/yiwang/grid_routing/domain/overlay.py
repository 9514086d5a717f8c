"""The one-network overlay: each micro-grid linked to the covering unit of every layer.

"Covering" is the unit with the largest intersection area, so a micro-grid that a
department boundary cuts belongs to the unit that holds most of it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from shapely import STRtree
from yiwang.grid_routing.domain.network import DEPARTMENT_LAYERS, GridNetwork, OverlayLink


def with_overlay(network: GridNetwork) -> GridNetwork:
    return dataclasses.replace(network, overlay=compute_overlay(network))


def compute_overlay(network: GridNetwork) -> tuple[OverlayLink, ...]:
    micro_grids = network.micro_grids
    if not micro_grids:
        return ()
    grid_geoms = np.asarray([m.polygon for m in micro_grids], dtype=object)
    grid_areas = shapely.area(grid_geoms)
    links: list[OverlayLink] = []
    for department in DEPARTMENT_LAYERS:
        units = network.layer(department)
        if not units:
            continue
        unit_geoms = np.asarray([u.polygon for u in units], dtype=object)
        grid_idx, unit_idx = STRtree(unit_geoms).query(grid_geoms, predicate="intersects")
        areas = shapely.area(shapely.intersection(grid_geoms[grid_idx], unit_geoms[unit_idx]))
        # Largest area first within each micro-grid; the first row per micro-grid wins.
        order = np.lexsort((-areas, grid_idx))
        grid_idx, unit_idx, areas = grid_idx[order], unit_idx[order], areas[order]
        first = np.ones(len(grid_idx), dtype=bool)
        first[1:] = grid_idx[1:] != grid_idx[:-1]
        for g, u, area in zip(grid_idx[first], unit_idx[first], areas[first], strict=True):
            if area > 0:
                links.append(
                    OverlayLink(
                        micro_grid_code=micro_grids[g].code,
                        department=department,
                        unit_code=units[u].code,
                        share=float(area / grid_areas[g]),
                    )
                )
    return tuple(links)
