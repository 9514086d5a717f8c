"""Oversight's unit of work: the common one (inbox, outbox) plus the repository."""

from __future__ import annotations

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.common.service import Runtime
from yiwang.oversight.adapters.repository import OversightRepository, PostgresOversightRepository


class OversightUnitOfWork(UnitOfWork):
    """What oversight's handlers see; fakes for unit tests subclass it."""

    @property
    def repository(self) -> OversightRepository:
        raise NotImplementedError


class PostgresOversightUnitOfWork(PostgresUnitOfWork, OversightUnitOfWork):
    @property
    def repository(self) -> OversightRepository:
        return PostgresOversightRepository(self.connection)


def unit_of_work(runtime: Runtime) -> PostgresOversightUnitOfWork:
    return PostgresOversightUnitOfWork(
        runtime.pool,
        source=f"/yiwang/{runtime.name}",
        clock=runtime.clock,
        topic_prefix=runtime.settings.topic_prefix,
    )
