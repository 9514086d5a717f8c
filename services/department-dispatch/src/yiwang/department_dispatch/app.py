"""Wiring for department-dispatch: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.department_dispatch.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    return Wiring(kafka_routers=[kafka_router(runtime)])


DEFINITION = ServiceDefinition(
    name="department-dispatch",
    schema="department_dispatch",
    port=8003,
    wire=wire,
    migrations=files("yiwang.department_dispatch") / "migrations",
    title="Yiwang department-dispatch",
    description="Work orders on department topics, department replies, whistle-and-report.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
