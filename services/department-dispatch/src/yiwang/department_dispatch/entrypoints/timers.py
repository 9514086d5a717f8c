"""Background loops on runtime.clock: the whistle deadline sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from yiwang.common.logs import get_logger
from yiwang.common.service import Runtime
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.entrypoints.kafka import dispatch_unit_of_work

log = get_logger(__name__)


def whistle_deadline_sweep(
    runtime: Runtime, settings: DispatchSettings
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def sweep_whistle_deadlines() -> None:
        # Every replica may sweep: rows are locked with SKIP LOCKED and marked in the same
        # transaction as their event, so each missed attendance is recorded exactly once.
        while True:
            try:
                while await handlers.record_missed_attendance(
                    uow=dispatch_unit_of_work(runtime), clock=runtime.clock
                ):
                    pass
            except Exception as exc:  # the database may be away; try again next tick
                log.warning("whistle sweep failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(settings.whistle_sweep_seconds)

    return sweep_whistle_deadlines
