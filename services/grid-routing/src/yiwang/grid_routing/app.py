"""Wiring for grid-routing: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.common.sla import parse_duration
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.grid_sets import GridSetRepository, PostgresGridSetRepository
from yiwang.grid_routing.adapters.rosters import PostgresRosterRepository, RosterRepository
from yiwang.grid_routing.adapters.routed_cases import PostgresRoutingHistory, RoutingHistory
from yiwang.grid_routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from yiwang.grid_routing.config import GridRoutingSettings
from yiwang.grid_routing.domain.matrix import load_default_matrix
from yiwang.grid_routing.entrypoints.background import jobs
from yiwang.grid_routing.entrypoints.http import REFUSALS, http_router
from yiwang.grid_routing.entrypoints.http_grid_workers import grid_workers_router
from yiwang.grid_routing.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, GridRoutingSettings)
    matrix = load_default_matrix()  # a bad matrix stops the service before it consumes
    active_grid = ActiveGrid()  # filled by the grid-loader job
    uow = runtime.units_of_work(PostgresRoutingUnitOfWork)
    grid_duration = parse_duration(settings.grid_deadline)  # the one grid deadline (sla.py)

    # The pool opens after wiring, in the service's lifespan: look it up at each use.
    def grid_sets() -> GridSetRepository:
        return PostgresGridSetRepository(runtime.pool)

    def history() -> RoutingHistory:
        return PostgresRoutingHistory(runtime.pool)

    def rosters() -> RosterRepository:
        return PostgresRosterRepository(runtime.pool)

    authenticate = runtime.authenticator()  # people only: no machine keys here

    return Wiring(
        kafka_routers=[
            kafka_router(
                runtime,
                active_grid=active_grid,
                matrix=matrix,
                uow=uow,
                grid_duration=grid_duration,
            )
        ],
        http_routers=[
            http_router(
                active_grid=active_grid,
                grid_sets=grid_sets,
                history=history,
                authenticate=authenticate,
            ),
            grid_workers_router(
                uow=uow,
                rosters_repo=rosters,
                active_grid=active_grid,
                matrix=matrix,
                clock=runtime.clock,
                authenticate=authenticate,
            ),
        ],
        jobs=jobs(
            settings=settings,
            active_grid=active_grid,
            grid_sets=grid_sets,
            rosters=rosters,
            uow=uow,
            matrix=matrix,
            clock=runtime.clock,
            grid_duration=grid_duration,
        ),
        refusals=REFUSALS,
    )


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
