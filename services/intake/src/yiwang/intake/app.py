"""Wiring for intake: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.intake.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    return Wiring(kafka_routers=[kafka_router(runtime)])


DEFINITION = ServiceDefinition(
    name="intake",
    schema="intake",
    port=8001,
    wire=wire,
    migrations=files("yiwang.intake") / "migrations",
    title="Yiwang intake",
    description="Every channel in: native API, Open311 GeoReport v2 and Kafka ingestion.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
