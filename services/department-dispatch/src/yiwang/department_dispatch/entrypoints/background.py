"""Background jobs, run by the supervisor in libs/common: the whistle deadline sweep."""

from __future__ import annotations

from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.common.postgres import UnitOfWorkFactory
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.config import DispatchSettings


def jobs(
    *,
    uow: UnitOfWorkFactory[PostgresDispatchUnitOfWork],
    clock: Clock,
    settings: DispatchSettings,
) -> list[Job]:
    async def sweep_whistle_deadlines() -> int:
        # Every replica may sweep: rows are locked with SKIP LOCKED and marked in the same
        # transaction as their event, so each missed attendance is recorded exactly once.
        return await handlers.record_missed_attendance(uow=uow(), clock=clock)

    return [every("whistle-deadlines", settings.whistle_sweep_seconds, sweep_whistle_deadlines)]
