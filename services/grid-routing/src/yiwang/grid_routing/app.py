"""Wiring for grid-routing: the one place that puts the service together."""

from __future__ import annotations

import asyncio
import gc
from importlib.resources import files

from yiwang.common.logs import get_logger
from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.grid_routing import handlers
from yiwang.grid_routing.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import PostgresGridSetRepository
from yiwang.grid_routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from yiwang.grid_routing.config import GridRoutingSettings
from yiwang.grid_routing.domain.matrix import load_default_matrix
from yiwang.grid_routing.entrypoints.http import http_router
from yiwang.grid_routing.entrypoints.kafka import kafka_router

log = get_logger(__name__)


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, GridRoutingSettings)
    matrix = load_default_matrix()  # a bad matrix stops the service before it consumes
    active_grid = ActiveGrid()

    def unit_of_work() -> PostgresRoutingUnitOfWork:
        return PostgresRoutingUnitOfWork(
            runtime.pool,
            source=f"/yiwang/{runtime.name}",
            clock=runtime.clock,
            topic_prefix=settings.topic_prefix,
        )

    async def keep_grid_loaded() -> None:
        """Load the active grid set (bootstrapping one if none), then follow switches."""
        grid_sets = PostgresGridSetRepository(runtime.pool)
        while True:
            try:
                active = active_grid.version
                if active is None or await grid_sets.active_version() != active:
                    index = await handlers.load_active_grid(
                        grid_sets=grid_sets, bootstrap_preset=settings.bootstrap_preset
                    )
                    active_grid.replace(index)
                    _exempt_from_collection()
                    log.info("grid index loaded", version=index.version, micro_grids=len(index))
            except Exception as exc:  # keep trying: routing waits for a grid, not a restart
                log.error("grid index not loaded", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(settings.grid_check_seconds)

    return Wiring(
        kafka_routers=[
            kafka_router(runtime, active_grid=active_grid, matrix=matrix, unit_of_work=unit_of_work)
        ],
        http_routers=[http_router(runtime, active_grid=active_grid)],
        background=[keep_grid_loaded],
    )


def _exempt_from_collection() -> None:
    """Move what lives now (the index and start-up state, ~10^5 objects for a district)
    out of the cyclic collector's sight: otherwise every full collection walks all of it,
    which cost 15-25% of routing's CPU under load. Reference counting still frees an
    index that a new grid set replaces (it holds no cycles)."""
    gc.collect()
    gc.freeze()


DEFINITION = ServiceDefinition(
    name="grid-routing",
    schema="grid_routing",
    port=8002,
    wire=wire,
    migrations=files("yiwang.grid_routing") / "migrations",
    settings_factory=GridRoutingSettings,
    title="Yiwang grid-routing",
    description="The one network: micro-grids, department layers and the responsibility matrix.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
