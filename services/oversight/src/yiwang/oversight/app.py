"""Wiring for oversight: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.oversight.adapters.peers import HttpPeers
from yiwang.oversight.adapters.queries import PostgresOversightReader
from yiwang.oversight.adapters.retention import retained
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.entrypoints.background import jobs
from yiwang.oversight.entrypoints.http import REFUSALS, case_router
from yiwang.oversight.entrypoints.http_assessments import assessment_router
from yiwang.oversight.entrypoints.http_ledgers import ledger_router
from yiwang.oversight.entrypoints.http_reports import report_router
from yiwang.oversight.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, OversightSettings)
    uow = runtime.units_of_work(PostgresOversightUnitOfWork)
    policy = OversightPolicy.of(
        close_after_working_days=settings.close_after_working_days,
        stranded_after_minutes=settings.stranded_after_minutes,
    )

    def reader() -> PostgresOversightReader:
        return PostgresOversightReader(runtime.pool)  # the pool opens after wiring

    clock = runtime.clock
    # People only, by bearer token: oversight issues no API keys. Residents evaluate with
    # their case's one-time evaluation token instead.
    authenticate = runtime.authenticator()
    return Wiring(
        kafka_routers=[kafka_router(runtime, uow=uow, policy=policy)],
        http_routers=[
            case_router(
                uow=uow, reader=reader, clock=clock, policy=policy, authenticate=authenticate
            ),
            report_router(
                reader=reader,
                clock=clock,
                authenticate=authenticate,
                weights=settings.evaluation_weights,
            ),
            assessment_router(uow=uow, reader=reader, clock=clock, authenticate=authenticate),
            ledger_router(
                reader=reader,
                clock=clock,
                authenticate=authenticate,
                peers=HttpPeers(
                    intake_url=settings.intake_url,
                    dispatch_url=settings.dispatch_url,
                    timeout=settings.peer_timeout_seconds,
                ),
            ),
        ],
        jobs=jobs(settings=settings, uow=uow, reader=reader, clock=clock, policy=policy),
        refusals=REFUSALS,
        retained=retained(settings),
    )


DEFINITION = ServiceDefinition(
    name="oversight",
    schema="oversight",
    port=8005,
    wire=wire,
    migrations=files("yiwang.oversight") / "migrations",
    settings_factory=OversightSettings,
    title="Yiwang oversight",
    description="Timelines, SLA clocks in working days, escalation, closing cases and the "
    "three rates.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
