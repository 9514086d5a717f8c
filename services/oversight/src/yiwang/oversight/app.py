"""Wiring for oversight: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.oversight.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    return Wiring(kafka_routers=[kafka_router(runtime)])


DEFINITION = ServiceDefinition(
    name="oversight",
    schema="oversight",
    port=8005,
    wire=wire,
    migrations=files("yiwang.oversight") / "migrations",
    title="Yiwang oversight",
    description="Timelines, SLA clocks in working days, escalation and the three rates.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
