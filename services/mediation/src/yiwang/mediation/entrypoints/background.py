"""The background jobs of mediation, run by the supervisor in libs/common (which restarts
a job that raised, so none catches anything here).

mediation-timers: seeds the roster once (when it is empty), then fires due timers on the
service clock. Every replica may sweep: SKIP LOCKED shares the due timers, and each is
marked fired in the transaction that writes its events, so it takes effect once.
"""

from __future__ import annotations

from collections.abc import Callable

from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.config import MediationSettings
from yiwang.mediation.domain.ladder import LadderPolicy


def jobs(
    *,
    settings: MediationSettings,
    uow: Callable[[], MediationUnitOfWork],
    clock: Clock,
    policy: LadderPolicy,
) -> list[Job]:
    seeded = False  # across the supervisor's restarts: seeding is retried until it is done

    async def fire_timers() -> bool:
        nonlocal seeded
        if not seeded:
            await handlers.seed_roster(
                uow=uow(), county_code=settings.county_code, townships=settings.seed_townships
            )
            seeded = True
        # True while timers fired: more may be due, so the next round runs at once.
        return await handlers.fire_due_timers(uow=uow(), clock=clock, policy=policy) > 0

    return [every("mediation-timers", settings.timer_poll_seconds, fire_timers)]
