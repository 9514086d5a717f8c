"""Oversight's background jobs: the timer sweep (SLA ladders, stagnant and stranded cases,
closing unevaluated ones) and the KPI/ledger gauges.

`jobs()` hands them to the supervisor in libs/common (`yiwang.common.jobs`), which runs
each tick, restarts a job whose tick raised (an outage or a fault, with back-off) and
turns /healthz red if one stops; so nothing here catches exceptions. Both read time from
the injectable clock, so YIWANG_CLOCK_SPEED makes deadlines fire within minutes in a demo
and tests drive them with a ManualClock.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.common.working_days import local_date
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.kpi import GroupBy
from yiwang.oversight.handlers import reports, timers
from yiwang.oversight.metrics import (
    CASES_OPEN,
    CASES_OVERDUE,
    DEPARTMENT_KPI,
    TIMERS_FIRED,
    TOWNSHIP_KPI,
    township_label,
)


def jobs(
    *,
    settings: OversightSettings,
    uow: Callable[[], OversightUnitOfWork],
    reader: Callable[[], OversightReader],
    clock: Clock,
    policy: OversightPolicy,
) -> list[Job]:
    async def refresh() -> None:
        await refresh_gauges(
            reader=reader(),
            clock=clock,
            window_days=settings.kpi_window_days,
            township_limit=settings.max_township_labels,
        )

    sweep = timer_sweep(uow=uow, clock=clock, replica=replica_name(), policy=policy)
    return [
        every("sla-timers", settings.timer_poll_seconds, sweep),
        every("kpi-gauges", settings.metrics_refresh_seconds, refresh),
    ]


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def timer_sweep(
    *,
    uow: Callable[[], OversightUnitOfWork],
    clock: Clock,
    replica: str,
    policy: OversightPolicy,
    batch: int = 100,
) -> Callable[[], Awaitable[int]]:
    """One round of the timer sweep: fire what is due now, at most `batch` timers, and
    return how many acted, raising an alert or closing a case (while some did, more may
    be due: the job goes on at once). Any number of replicas may sweep (SKIP LOCKED
    shares the work)."""

    async def tick() -> int:
        fired = await timers.fire_due_timers(
            uow=uow(), now=clock.now(), replica=replica, policy=policy, limit=batch
        )
        for outcome in ("alerted", "closed", "stopped"):
            TIMERS_FIRED.labels(outcome).inc(getattr(fired, outcome))
        return fired.acted

    return tick


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
    first = today - timedelta(days=window_days - 1)
    for group_by, gauge in ((GroupBy.DEPARTMENT, DEPARTMENT_KPI), (GroupBy.TOWNSHIP, TOWNSHIP_KPI)):
        report = await reports.report_kpis(
            reader=reader, first=first, last=today, group_by=group_by, as_of=now
        )
        gauge.clear()
        for row in report.rows:
            group = row.group
            if group_by is GroupBy.TOWNSHIP:
                group = township_label(group, allowed, limit=township_limit)
            for kpi, ratio in row.rates.items():
                if ratio.value is not None:
                    gauge.labels(kpi.value, group).set(ratio.value)
