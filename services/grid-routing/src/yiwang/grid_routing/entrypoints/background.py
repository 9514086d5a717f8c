"""Background jobs, run by the supervisor in libs/common (one error policy for all: a
failed round is logged, counted and retried with back-off; see docs/layout.md).

- `grid-loader`: load the active grid set into memory (bootstrapping one if none is
  stored), then follow switches to another version every `GRID_ROUTING_CHECK_SECONDS`.
  Until the first load, routing waits for the grid rather than for a restart.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from yiwang.common.jobs import Job, every
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.config import GridRoutingSettings
from yiwang.grid_routing.handlers import grid_sets as grid_set_handlers


def jobs(
    *,
    settings: GridRoutingSettings,
    active_grid: ActiveGrid,
    grid_sets: Callable[[], GridSetRepository],
) -> list[Job]:
    async def load_grid() -> None:
        index = await grid_set_handlers.follow_active_grid(
            grid_sets=grid_sets(),
            active_grid=active_grid,
            bootstrap_preset=settings.bootstrap_preset,
        )
        if index is not None:
            _exempt_from_collection()

    return [every("grid-loader", settings.grid_check_seconds, load_grid)]


def _exempt_from_collection() -> None:
    """Move what lives now (the index and start-up state, ~10^5 objects for a district)
    out of the cyclic collector's sight: otherwise every full collection walks all of it,
    which cost 15-25% of routing's CPU under load. Reference counting still frees an
    index that a new grid set replaces (it holds no cycles)."""
    gc.collect()
    gc.freeze()
