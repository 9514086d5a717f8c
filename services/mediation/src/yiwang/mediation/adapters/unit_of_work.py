"""The mediation unit of work: one transaction holding the repositories, inbox and outbox.

Handlers see `MediationUnitOfWork`; the service runs `PostgresMediationUnitOfWork`, made
fresh for each use case by `runtime.units_of_work(PostgresMediationUnitOfWork)` (app.py).
"""

from __future__ import annotations

import abc

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.mediation.adapters.mediations import PostgresMediationRepository
from yiwang.mediation.adapters.repository import MediationRepository, RosterRepository
from yiwang.mediation.adapters.roster import PostgresRosterRepository


class MediationUnitOfWork(UnitOfWork):
    """A unit of work whose transaction also holds the repositories."""

    @property
    @abc.abstractmethod
    def mediations(self) -> MediationRepository: ...

    @property
    @abc.abstractmethod
    def roster(self) -> RosterRepository: ...


class PostgresMediationUnitOfWork(PostgresUnitOfWork, MediationUnitOfWork):
    @property
    def mediations(self) -> MediationRepository:
        return PostgresMediationRepository(self.connection)

    @property
    def roster(self) -> RosterRepository:
        return PostgresRosterRepository(self.connection)
