"""The dispatch unit of work: one transaction holding the dispatch repository, the inbox
and the outbox. Handlers see the abstract one; the runtime makes the Postgres one
(`runtime.units_of_work(PostgresDispatchUnitOfWork)`, in app.py)."""

from __future__ import annotations

import abc

from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWork
from yiwang.department_dispatch.adapters.postgres import PostgresDispatchRepository
from yiwang.department_dispatch.adapters.repository import DispatchRepository


class DispatchUnitOfWork(UnitOfWork):
    """A unit of work whose transaction also holds the dispatch repository."""

    @property
    @abc.abstractmethod
    def dispatch(self) -> DispatchRepository: ...


class PostgresDispatchUnitOfWork(PostgresUnitOfWork, DispatchUnitOfWork):
    @property
    def dispatch(self) -> DispatchRepository:
        return PostgresDispatchRepository(self.connection)
