"""Wiring for department-dispatch: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.logs import get_logger
from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.department_dispatch.config import DEV_SIGNING_KEY, DispatchSettings
from yiwang.department_dispatch.entrypoints.http import http_router
from yiwang.department_dispatch.entrypoints.kafka import kafka_router
from yiwang.department_dispatch.entrypoints.timers import whistle_deadline_sweep

log = get_logger(__name__)


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    if settings.signing_key == DEV_SIGNING_KEY:
        log.warning("YIWANG_DISPATCH_SIGNING_KEY is the development default; set it in production")
    return Wiring(
        kafka_routers=[kafka_router(runtime, settings)],
        http_routers=[http_router(runtime)],
        background=[whistle_deadline_sweep(runtime, settings)],
    )


DEFINITION = ServiceDefinition(
    name="department-dispatch",
    schema="department_dispatch",
    port=8003,
    wire=wire,
    migrations=files("yiwang.department_dispatch") / "migrations",
    settings_factory=DispatchSettings,
    title="Yiwang department-dispatch",
    description="Work orders on department topics, department replies, whistle-and-report.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
