"""Wiring for mediation: the one place that puts the service together."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files

from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.runtime import Runtime, ServiceDefinition, Wiring
from yiwang.common.service import run_service
from yiwang.common.settings import check_secret
from yiwang.mediation.adapters.retention import retained
from yiwang.mediation.adapters.unit_of_work import PostgresMediationUnitOfWork
from yiwang.mediation.config import DEVELOPMENT_PII_KEY, MediationSettings
from yiwang.mediation.domain.ladder import LadderPolicy
from yiwang.mediation.entrypoints.background import jobs
from yiwang.mediation.entrypoints.http import REFUSALS, http_router
from yiwang.mediation.entrypoints.http_roster import roster_router
from yiwang.mediation.entrypoints.kafka import kafka_router


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, MediationSettings)
    pii_key = check_secret(
        settings,
        name="MEDIATION_PII_KEY",
        value=settings.pii_key,
        development_values=(DEVELOPMENT_PII_KEY,),
    )  # empty, or the development key outside YIWANG_ENV=development, stops start-up
    vault = PersonalDataVault(pii_key, setting="MEDIATION_PII_KEY")  # so does a bad key
    policy = LadderPolicy(
        time_limit=timedelta(days=settings.level_time_limit_days),
        county_code=settings.county_code,
    )
    uow = runtime.units_of_work(PostgresMediationUnitOfWork)
    authenticate = runtime.authenticator()  # people only: no machine calls mediation
    return Wiring(
        kafka_routers=[kafka_router(runtime, uow=uow, policy=policy)],
        http_routers=[
            http_router(
                uow=uow,
                clock=runtime.clock,
                policy=policy,
                vault=vault,
                authenticate=authenticate,
            ),
            roster_router(uow=uow, authenticate=authenticate),
        ],
        jobs=jobs(settings=settings, uow=uow, clock=runtime.clock, policy=policy),
        refusals=REFUSALS,
        retained=retained(settings),
    )


DEFINITION = ServiceDefinition(
    name="mediation",
    schema="mediation",
    port=8004,
    wire=wire,
    migrations=files("yiwang.mediation") / "migrations",
    settings_factory=MediationSettings,
    title="Yiwang mediation",
    description="The people's mediation ladder for disputes: grid, community, township, "
    "district centre or trade committee, then court or arbitration.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
