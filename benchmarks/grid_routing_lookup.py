"""Point -> micro-grid lookups per second on one core over the `city` preset (12,300
micro-grids), batched through the STRtree as routing does, and one point at a time.

    uv run --frozen python benchmarks/grid_routing_lookup.py [--points 200000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import OUTSIDE, GridIndex
from yiwang.grid_routing.domain.presets import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--single", type=int, default=20_000, help="points looked up one by one")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    started = time.perf_counter()
    network, _ = check_grid_set(generate_county("city").items())
    index = GridIndex(network, version=1)
    print(
        f"city preset: {len(index)} micro-grids, validated + overlaid + indexed in "
        f"{time.perf_counter() - started:.2f} s"
    )
    west, south, east, north = PRESETS["city"].bbox
    rng = np.random.default_rng(1)
    lons = rng.uniform(west, east, args.points)
    lats = rng.uniform(south, north, args.points)
    started = time.perf_counter()
    outside = 0
    for start in range(0, args.points, args.batch):
        found = index.locate_many(
            lons[start : start + args.batch], lats[start : start + args.batch]
        )
        outside += int((found == OUTSIDE).sum())
    batched = args.points / (time.perf_counter() - started)
    print(
        f"batched ({args.batch} per query): {batched:,.0f} lookups/s over {args.points:,} "
        f"points ({outside} outside)"
    )
    started = time.perf_counter()
    for lon, lat in zip(lons[: args.single], lats[: args.single], strict=True):
        index.locate(float(lon), float(lat))
    single = args.single / (time.perf_counter() - started)
    print(f"one at a time: {single:,.0f} lookups/s over {args.single:,} points")


if __name__ == "__main__":
    main()
