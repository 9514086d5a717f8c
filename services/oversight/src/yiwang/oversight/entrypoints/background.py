"""Background loops: the SLA timer sweep and the KPI/ledger gauges.

Both read time from the injectable clock (runtime.clock), so YIWANG_CLOCK_SPEED makes
deadlines fire within minutes in a demo and tests drive them with a ManualClock.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import timedelta

import asyncpg
from yiwang.common.clock import Clock
from yiwang.common.logs import get_logger
from yiwang.oversight import handlers, reports
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.calendar import local_date
from yiwang.oversight.domain.kpi import GroupBy
from yiwang.oversight.metrics import (
    CASES_OPEN,
    CASES_OVERDUE,
    DEPARTMENT_KPI,
    TIMERS_FIRED,
    TOWNSHIP_KPI,
    township_label,
)

log = get_logger(__name__)
OUTAGES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class TimerLoop:
    """Sweeps due timers; any number of replicas may run one (SKIP LOCKED shares the work)."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], OversightUnitOfWork],
        clock: Clock,
        replica: str,
        poll_seconds: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._replica = replica
        self._poll_seconds = poll_seconds
        self._batch = batch

    async def tick(self) -> int:
        """Fire what is due now; return how many alerts were raised."""
        raised = await handlers.fire_due_timers(
            uow=self._uow_factory(), now=self._clock.now(), replica=self._replica, limit=self._batch
        )
        TIMERS_FIRED.labels("alerted").inc(raised)
        return raised

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except OUTAGES as exc:
                log.warning("timer sweep failed; retrying", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._poll_seconds)


async def refresh_gauges(
    *, reader: OversightReader, clock: Clock, window_days: int, township_limit: int
) -> None:
    """Set the open/overdue and KPI gauges from the database."""
    now = clock.now()
    allowed: set[str] = set()
    counts: dict[tuple[str, str], list[int]] = {}
    for line in await reader.ledger(now=now):
        key = (line.department, township_label(line.township, allowed, limit=township_limit))
        totals = counts.setdefault(key, [0, 0])
        totals[0] += line.open
        totals[1] += line.overdue
    CASES_OPEN.clear()
    CASES_OVERDUE.clear()
    for (department, township), (open_, overdue) in counts.items():
        CASES_OPEN.labels(department, township).set(open_)
        CASES_OVERDUE.labels(department, township).set(overdue)
    today = local_date(now)
    period = reports.check_period(today - timedelta(days=window_days - 1), today)
    for group_by, gauge in ((GroupBy.DEPARTMENT, DEPARTMENT_KPI), (GroupBy.TOWNSHIP, TOWNSHIP_KPI)):
        report = await reports.report_kpis(
            reader=reader, period=period, group_by=group_by, as_of=now
        )
        gauge.clear()
        for row in report.rows:
            group = row.group
            if group_by is GroupBy.TOWNSHIP:
                group = township_label(group, allowed, limit=township_limit)
            for kpi, ratio in row.rates.items():
                if ratio.value is not None:
                    gauge.labels(kpi.value, group).set(ratio.value)


async def run_gauges(
    *, reader: OversightReader, clock: Clock, window_days: int, township_limit: int, every: float
) -> None:
    while True:
        try:
            await refresh_gauges(
                reader=reader, clock=clock, window_days=window_days, township_limit=township_limit
            )
        except OUTAGES as exc:
            log.warning("gauge refresh failed; retrying", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(every)
