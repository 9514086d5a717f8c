"""Background jobs, run by the supervisor in libs/common (one error policy for all: a
failed round is logged, counted and retried with back-off; see docs/layout.md).

- `grid-loader`: load the active grid set into memory (bootstrapping one if none is
  stored), then follow switches to another version every `GRID_ROUTING_CHECK_SECONDS`.
  Until the first load, routing waits for the grid rather than for a restart. With a
  bootstrap preset, the synthetic roster of grid workers comes with the synthetic grid set.
- `grid-deadlines`: grid tasks not settled by their grid deadline pass up (上报) to the
  township department by themselves, every `GRID_ROUTING_GRID_SWEEP_SECONDS`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Callable

from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.common.sla import Duration
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository
from yiwang.grid_routing.adapters.rosters import RosterRepository
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.config import GridRoutingSettings
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.handlers import grid_sets as grid_set_handlers
from yiwang.grid_routing.handlers import passing_up


def jobs(
    *,
    settings: GridRoutingSettings,
    active_grid: ActiveGrid,
    grid_sets: Callable[[], GridSetRepository],
    rosters: Callable[[], RosterRepository],
    uow: Callable[[], RoutingUnitOfWork],
    matrix: ResponsibilityMatrix,
    clock: Clock,
    grid_duration: Duration,
) -> list[Job]:
    async def load_grid() -> None:
        index = await grid_set_handlers.follow_active_grid(
            grid_sets=grid_sets(),
            active_grid=active_grid,
            bootstrap_preset=settings.bootstrap_preset,
            rosters=rosters(),
        )
        if index is not None:
            _exempt_from_collection()

    async def pass_up_overdue() -> int:
        return await passing_up.pass_up_overdue_tasks(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=clock,
            duration=grid_duration,
        )

    return [
        every("grid-loader", settings.grid_check_seconds, load_grid),
        every("grid-deadlines", settings.grid_sweep_seconds, pass_up_overdue),
    ]


def _exempt_from_collection() -> None:
    """Move what lives now (the index and start-up state, ~10^5 objects for a district)
    out of the cyclic collector's sight: otherwise every full collection walks all of it,
    which cost 15-25% of routing's CPU under load. Reference counting still frees an
    index that a new grid set replaces (it holds no cycles). The heap the load freed (the
    network as read or generated, its rows) goes back to the system, so what comes next
    does not grow the process from the load's peak."""
    gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)
