"""Wiring for oversight: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.oversight.adapters.queries import PostgresOversightReader
from yiwang.oversight.adapters.unit_of_work import unit_of_work
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.entrypoints.background import TimerLoop, replica_name, run_gauges
from yiwang.oversight.entrypoints.http import case_router
from yiwang.oversight.entrypoints.http_reports import report_router
from yiwang.oversight.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, OversightSettings)

    async def sla_timers() -> None:
        loop = TimerLoop(
            uow_factory=lambda: unit_of_work(runtime),
            clock=runtime.clock,
            replica=replica_name(),
            poll_seconds=settings.timer_poll_seconds,
        )
        await loop.run()

    async def kpi_gauges() -> None:
        await run_gauges(
            reader=PostgresOversightReader(runtime.pool),
            clock=runtime.clock,
            window_days=settings.kpi_window_days,
            township_limit=settings.max_township_labels,
            every=settings.metrics_refresh_seconds,
        )

    return Wiring(
        kafka_routers=[kafka_router(runtime)],
        http_routers=[case_router(runtime), report_router(runtime)],
        background=[sla_timers, kpi_gauges],
    )


DEFINITION = ServiceDefinition(
    name="oversight",
    schema="oversight",
    port=8005,
    wire=wire,
    migrations=files("yiwang.oversight") / "migrations",
    settings_factory=OversightSettings,
    title="Yiwang oversight",
    description="Timelines, SLA clocks in working days, escalation and the three rates.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
