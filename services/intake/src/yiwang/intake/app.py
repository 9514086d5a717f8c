"""Wiring for intake: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.adapters.case_numbers import PostgresCaseNumberIssuer
from yiwang.intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.entrypoints.background import jobs
from yiwang.intake.entrypoints.http import REFUSALS, native_router
from yiwang.intake.entrypoints.http_open311 import open311_problem, open311_router
from yiwang.intake.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    uow = runtime.units_of_work(PostgresIntakeUnitOfWork)
    policy = IntakePolicy.of(
        county_code=settings.county_code,
        county_name=settings.county_name,
        bbox=settings.county_bbox,
        radius_m=settings.duplicate_radius_m,
        window_hours=settings.duplicate_window_hours,
    )
    vault = PersonalDataVault(settings.pii_key, setting="INTAKE_PII_KEY")
    # Both ask for the pool at each call: it opens in the service's lifespan, after wiring.
    numbers = PostgresCaseNumberIssuer(lambda: runtime.pool)
    api_keys = ApiKeyStore(lambda: runtime.pool)  # one store: its cache of verified keys

    return Wiring(
        kafka_routers=[kafka_router(runtime, uow=uow, policy=policy, vault=vault, numbers=numbers)],
        http_routers=[
            native_router(
                uow=uow,
                api_keys=api_keys,
                policy=policy,
                vault=vault,
                numbers=numbers,
                clock=runtime.clock,
                public_base_url=settings.public_base_url,
            ),
            open311_router(
                uow=uow,
                api_keys=api_keys,
                policy=policy,
                vault=vault,
                numbers=numbers,
                clock=runtime.clock,
                settings=settings,
            ),
        ],
        jobs=jobs(),
        refusals=REFUSALS,
        problem_alternative=open311_problem,
    )


DEFINITION = ServiceDefinition(
    name="intake",
    schema="intake",
    port=8001,
    wire=wire,
    migrations=files("yiwang.intake") / "migrations",
    settings_factory=IntakeSettings,
    title="Yiwang intake",
    description="Every channel in: the native API, Open311 GeoReport v2 and Kafka ingestion.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
