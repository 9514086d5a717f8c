"""Grid set use cases: import a version, load the active one (with the synthetic roster
when bootstrapping), follow a switch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from yiwang.common.logs import get_logger
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.rosters import RosterRepository
from yiwang.grid_routing.domain.errors import NoGridSet
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.progress import Progress
from yiwang.grid_routing.handlers.rosters import bootstrap_roster

log = get_logger(__name__)


async def import_grid_set(
    *,
    grid_sets: GridSetRepository,
    collections: Iterable[tuple[str, Any]],
    label: str,
    source: str,
    repair: bool = False,
    only_if_empty: bool = False,
    progress: Progress | None = None,
) -> int | None:
    """Validate (and repair on request), overlay, store and switch in a new version."""
    network, repairs = await asyncio.to_thread(
        check_grid_set, list(collections), repair=repair, progress=progress
    )
    return await grid_sets.add(
        network,
        label=label,
        source=source,
        repairs=repairs,
        only_if_empty=only_if_empty,
        progress=progress,
    )


async def load_active_grid(*, grid_sets: GridSetRepository, bootstrap_preset: str) -> GridIndex:
    """The active grid set as an index; with none stored, import the bootstrap preset first."""
    loaded = await grid_sets.active()
    if loaded is None and bootstrap_preset:
        network, repairs = await asyncio.to_thread(
            check_grid_set, list(generate_county(bootstrap_preset).items()), repair=False
        )
        version = await grid_sets.add(
            network,
            label=f"synthetic county, preset {bootstrap_preset}",
            source=f"generator:{bootstrap_preset}",
            repairs=repairs,
            only_if_empty=True,
        )
        log.info("bootstrap grid set imported", preset=bootstrap_preset, version=version)
        if version is not None:
            # Indexed as stored, not read back: a second copy of the network in memory
            # would set the process's peak (RSS) for good.
            return await asyncio.to_thread(GridIndex, network, version=version)
        loaded = await grid_sets.active()  # another replica bootstrapped it
    if loaded is None:
        raise NoGridSet()
    version, network = loaded
    return await asyncio.to_thread(GridIndex, network, version=version)


async def follow_active_grid(
    *,
    grid_sets: GridSetRepository,
    active_grid: ActiveGrid,
    bootstrap_preset: str,
    rosters: RosterRepository | None = None,
) -> GridIndex | None:
    """Load the active grid set into memory if none is loaded or another version was
    switched in; the new index, or None when the loaded one is still current. With
    `rosters`, the synthetic roster comes with the synthetic grid set (when none is stored)."""
    loaded = active_grid.version
    if loaded is not None and await grid_sets.active_version() == loaded:
        return None
    index = await load_active_grid(grid_sets=grid_sets, bootstrap_preset=bootstrap_preset)
    if rosters is not None:
        await bootstrap_roster(rosters=rosters, preset=bootstrap_preset)
    active_grid.replace(index)
    log.info("grid index loaded", version=index.version, micro_grids=len(index))
    return index
