"""What intake's entrypoints hand to its handlers, built once by the wiring in app.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.service import Runtime
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.adapters.case_numbers import PostgresCaseNumberIssuer
from yiwang.intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain.admission import IntakePolicy


@dataclass
class IntakeDependencies:
    runtime: Runtime
    settings: IntakeSettings
    policy: IntakePolicy
    vault: PersonalDataVault
    _api_keys: ApiKeyStore | None = field(default=None, init=False)
    _numbers: PostgresCaseNumberIssuer | None = field(default=None, init=False)

    def uow(self) -> PostgresIntakeUnitOfWork:
        return PostgresIntakeUnitOfWork(
            self.runtime.pool,
            source=f"/yiwang/{self.runtime.name}",
            clock=self.runtime.clock,
            topic_prefix=self.settings.topic_prefix,
        )

    def numbers(self) -> PostgresCaseNumberIssuer:
        if self._numbers is None:
            self._numbers = PostgresCaseNumberIssuer(self.runtime.pool)
        return self._numbers

    def api_keys(self) -> ApiKeyStore:
        # Made on first use: the pool opens in the service's lifespan, after wiring.
        if self._api_keys is None:
            self._api_keys = ApiKeyStore(self.runtime.pool)
        return self._api_keys
