"""Wiring for intake: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from yiwang.common.personal_data import PersonalDataVault, PiiKeyInvalid, parse_keys
from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.common.settings import SecretRefused, check_secret
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.adapters.case_numbers import PostgresCaseNumberIssuer
from yiwang.intake.adapters.reconciliation import PostgresReceivedCases
from yiwang.intake.adapters.retention import retained
from yiwang.intake.adapters.signing_secrets import SigningSecretStore
from yiwang.intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from yiwang.intake.config import DEVELOPMENT_PII_KEY, IntakeSettings
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.entrypoints.background import jobs
from yiwang.intake.entrypoints.http import REFUSALS, native_router
from yiwang.intake.entrypoints.http_open311 import open311_problem, open311_router
from yiwang.intake.entrypoints.http_personal_data import personal_data_router
from yiwang.intake.entrypoints.http_reconciliation import reconciliation_router
from yiwang.intake.entrypoints.kafka import kafka_router
from yiwang.intake.entrypoints.open311_forms import install_open311_errors


def pii_vault(settings: IntakeSettings) -> PersonalDataVault:
    """The personal-data vault; outside development, a key of this repository's (the
    development default) is refused, whichever of the key ids it is under."""
    try:
        for key in parse_keys(settings.pii_key, setting="INTAKE_PII_KEY").values():
            check_secret(
                settings,
                name="INTAKE_PII_KEY",
                value=key,
                development_values=(DEVELOPMENT_PII_KEY,),
            )
        return PersonalDataVault(settings.pii_key, setting="INTAKE_PII_KEY")
    except PiiKeyInvalid as exc:  # a one-line start-up error, as for a refused secret
        raise SecretRefused(str(exc)) from None


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    vault = pii_vault(settings)
    uow = runtime.units_of_work(PostgresIntakeUnitOfWork)
    policy = IntakePolicy.of(
        county_code=settings.county_code,
        county_name=settings.county_name,
        bbox=settings.county_bbox,
        radius_m=settings.duplicate_radius_m,
        window_hours=settings.duplicate_window_hours,
    )
    # They ask for the pool at each call: it opens in the service's lifespan, after wiring.
    numbers = PostgresCaseNumberIssuer(lambda: runtime.pool)
    api_keys = ApiKeyStore(lambda: runtime.pool)  # one store: its cache of verified keys
    signing = SigningSecretStore(lambda: runtime.pool, vault)
    authenticate = runtime.authenticator(api_keys=api_keys.actor)
    clock = runtime.clock

    return Wiring(
        kafka_routers=[
            kafka_router(
                runtime, uow=uow, policy=policy, vault=vault, numbers=numbers, signing=signing
            )
        ],
        http_routers=[
            native_router(
                authenticate=authenticate,
                uow=uow,
                policy=policy,
                vault=vault,
                numbers=numbers,
                clock=clock,
                public_base_url=settings.public_base_url,
            ),
            personal_data_router(authenticate=authenticate, uow=uow, vault=vault, clock=clock),
            reconciliation_router(
                authenticate=authenticate, store=PostgresReceivedCases(lambda: runtime.pool)
            ),
            open311_router(
                authenticate=authenticate,
                uow=uow,
                api_keys=api_keys,
                policy=policy,
                vault=vault,
                numbers=numbers,
                clock=clock,
                settings=settings,
            ),
        ],
        jobs=jobs(uow=uow, clock=clock, settings=settings),
        refusals=REFUSALS,
        problem_alternative=open311_problem,
        configure_app=install_open311_errors,
        retained=retained(settings),
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
