"""Wiring for department-dispatch: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.logs import get_logger
from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.config import DEV_SIGNING_KEY, DispatchSettings
from yiwang.department_dispatch.entrypoints.background import jobs
from yiwang.department_dispatch.entrypoints.http import AUTH_DOC, REFUSALS, http_router
from yiwang.department_dispatch.entrypoints.http_work_orders import work_orders_router
from yiwang.department_dispatch.entrypoints.kafka import kafka_router

log = get_logger(__name__)


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    if settings.signing_key == DEV_SIGNING_KEY:
        log.warning("YIWANG_DISPATCH_SIGNING_KEY is the development default; set it in production")
    uow = runtime.units_of_work(PostgresDispatchUnitOfWork)
    return Wiring(
        kafka_routers=[kafka_router(runtime, uow=uow, settings=settings)],
        http_routers=[
            http_router(uow=uow, clock=runtime.clock),
            work_orders_router(uow=uow, clock=runtime.clock, auth_doc=AUTH_DOC),
        ],
        jobs=jobs(uow=uow, clock=runtime.clock, settings=settings),
        refusals=REFUSALS,
    )


DEFINITION = ServiceDefinition(
    name="department-dispatch",
    schema="department_dispatch",
    port=8003,
    wire=wire,
    migrations=files("yiwang.department_dispatch") / "migrations",
    settings_factory=DispatchSettings,
    title="Yiwang department-dispatch",
    description="Work orders on department topics, department replies, whistle-and-report, "
    "the hub's rulings, re-handling and reminders.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
