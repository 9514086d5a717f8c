"""Oversight's unit of work: the common one (inbox, outbox) plus the repositories (cases, township assessments).

`app.py` makes them with `runtime.units_of_work(PostgresOversightUnitOfWork)`: one fresh
unit per use-case call.
"""

from __future__ import annotations

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.oversight.adapters.assessments import (
    AssessmentRepository,
    PostgresAssessmentRepository,
)
from yiwang.oversight.adapters.postgres import PostgresOversightRepository
from yiwang.oversight.adapters.repository import OversightRepository


class OversightUnitOfWork(UnitOfWork):
    """What oversight's handlers see; fakes for unit tests subclass it."""

    @property
    def repository(self) -> OversightRepository:
        raise NotImplementedError

    @property
    def assessments(self) -> AssessmentRepository:
        raise NotImplementedError


class PostgresOversightUnitOfWork(PostgresUnitOfWork, OversightUnitOfWork):
    @property
    def repository(self) -> OversightRepository:
        return PostgresOversightRepository(self.connection)

    @property
    def assessments(self) -> AssessmentRepository:
        return PostgresAssessmentRepository(self.connection)
