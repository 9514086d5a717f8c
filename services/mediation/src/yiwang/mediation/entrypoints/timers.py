"""Background loop on runtime.clock: seed the roster once, then fire due timers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from yiwang.common.logs import get_logger
from yiwang.common.service import Runtime
from yiwang.mediation import handlers, roster_handlers
from yiwang.mediation.config import MediationSettings
from yiwang.mediation.entrypoints.kafka import unit_of_work

log = get_logger(__name__)


def timer_sweep(
    runtime: Runtime, settings: MediationSettings, policy: handlers.LadderPolicy
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def sweep_mediation_timers() -> None:
        seeded = False
        # Every replica may sweep: SKIP LOCKED shares the due timers, and each is marked
        # fired in the transaction that writes its events, so it takes effect once.
        while True:
            try:
                if not seeded:
                    await roster_handlers.seed_roster(
                        uow=unit_of_work(runtime),
                        county_code=settings.county_code,
                        townships=settings.seed_townships,
                    )
                    seeded = True
                while await handlers.fire_due_timers(
                    uow=unit_of_work(runtime), clock=runtime.clock, policy=policy
                ):
                    pass
            except Exception as exc:  # the database may be away; try again next tick
                log.warning("mediation timer sweep failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(settings.timer_poll_seconds)

    return sweep_mediation_timers
