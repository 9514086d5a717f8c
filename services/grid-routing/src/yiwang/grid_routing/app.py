"""Wiring for grid-routing: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.grid_routing.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    return Wiring(kafka_routers=[kafka_router(runtime)])


DEFINITION = ServiceDefinition(
    name="grid-routing",
    schema="grid_routing",
    port=8002,
    wire=wire,
    migrations=files("yiwang.grid_routing") / "migrations",
    title="Yiwang grid-routing",
    description="The one network: micro-grids, department layers and the responsibility matrix.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
