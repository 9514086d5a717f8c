"""Roster use cases: import a version of the grid workers, checked against the active grid
set; bootstrap the synthetic roster beside the synthetic grid set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from yiwang.common.logs import get_logger
from yiwang.grid_routing.adapters.rosters import RosterRepository, WorkerLoad
from yiwang.grid_routing.domain.errors import NoGridSet
from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster
from yiwang.grid_routing.domain.roster import RosterRejected, check_roster

log = get_logger(__name__)


async def import_roster(
    *,
    rosters: RosterRepository,
    rows: Iterable[Mapping[str, Any]],
    label: str,
    source: str,
    only_if_empty: bool = False,
) -> int | None:
    """Check every row against the active grid set, store and switch in a new version;
    RosterRejected (nothing stored) names each row at fault."""
    active = await rosters.active_grid_micro_grids()
    if active is None:
        raise NoGridSet()
    grid_set, micro_grids = active
    workers = check_roster(rows, micro_grids=micro_grids, grid_set=grid_set)
    return await rosters.add(
        workers, label=label, source=source, grid_set=grid_set, only_if_empty=only_if_empty
    )


async def bootstrap_roster(*, rosters: RosterRepository, preset: str) -> int | None:
    """With no roster stored, the synthetic county's workers (one per few micro-grids, all
    five roles). A grid set that is not the preset's refuses it: logged, nothing stored."""
    if not preset or await rosters.summaries():
        return None
    rows = synthetic_roster(generate_county(preset)["admin"])
    try:
        version = await import_roster(
            rosters=rosters,
            rows=rows,
            label=f"synthetic roster, preset {preset}",
            source=f"generator:{preset}",
            only_if_empty=True,
        )
    except RosterRejected as exc:
        log.warning("synthetic roster does not fit the active grid set", problems=exc.problems[:5])
        return None
    if version is not None:
        log.info("bootstrap roster imported", preset=preset, version=version, workers=len(rows))
    return version


async def worker_loads(
    *, rosters: RosterRepository, micro_grid: str | None, limit: int, offset: int
) -> list[WorkerLoad]:
    return await rosters.workers(micro_grid=micro_grid, limit=limit, offset=offset)
