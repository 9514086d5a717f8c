"""Wiring for mediation: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.mediation.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    return Wiring(kafka_routers=[kafka_router(runtime)])


DEFINITION = ServiceDefinition(
    name="mediation",
    schema="mediation",
    port=8004,
    wire=wire,
    migrations=files("yiwang.mediation") / "migrations",
    title="Yiwang mediation",
    description="The people's mediation ladder for disputes.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
