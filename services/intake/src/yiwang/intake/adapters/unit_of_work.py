"""Intake's unit of work: the common one, plus the case repository on its connection."""

from __future__ import annotations

import abc
from typing import Self

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.intake.adapters.personal_data import (
    PersonalDataRepository,
    PostgresPersonalDataRepository,
)
from yiwang.intake.adapters.postgres_cases import PostgresCaseRepository
from yiwang.intake.adapters.repository import CaseRepository


class IntakeUnitOfWork(UnitOfWork, abc.ABC):
    cases: CaseRepository
    personal_data: PersonalDataRepository


class PostgresIntakeUnitOfWork(PostgresUnitOfWork, IntakeUnitOfWork):
    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.cases = PostgresCaseRepository(self.connection, write=self.write)
        self.personal_data = PostgresPersonalDataRepository(self.connection)
        return self
