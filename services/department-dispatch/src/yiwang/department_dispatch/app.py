"""Wiring for department-dispatch: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.auth import Actor
from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.reconciliation import PostgresDispatchedCases
from yiwang.department_dispatch.adapters.retention import retained
from yiwang.department_dispatch.adapters.signing import signing_vault
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.entrypoints.background import jobs
from yiwang.department_dispatch.entrypoints.http import REFUSALS, http_router
from yiwang.department_dispatch.entrypoints.http_reconciliation import reconciliation_router
from yiwang.department_dispatch.entrypoints.http_work_orders import work_orders_router
from yiwang.department_dispatch.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    # Refuses an empty key, or the development default outside YIWANG_ENV=development.
    vault = signing_vault(settings)
    uow = runtime.units_of_work(PostgresDispatchUnitOfWork)

    async def api_keys(presented: str) -> Actor | None:
        return await handlers.actor_for_api_key(uow=uow(), api_key=presented)

    authenticate = runtime.authenticator(api_keys=api_keys)
    return Wiring(
        kafka_routers=[kafka_router(runtime, uow=uow, vault=vault)],
        http_routers=[
            http_router(uow=uow, clock=runtime.clock, authenticate=authenticate),
            work_orders_router(uow=uow, clock=runtime.clock, authenticate=authenticate),
            reconciliation_router(
                authenticate=authenticate, store=PostgresDispatchedCases(lambda: runtime.pool)
            ),
        ],
        jobs=jobs(uow=uow, clock=runtime.clock, settings=settings),
        refusals=REFUSALS,
        retained=retained(settings),
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
