"""Background jobs under one supervisor, with one error policy for every service.

A job is a coroutine that runs for the life of the service: the outbox relay, the lag
monitor, a timer sweep, a gauge refresh. The supervisor restarts a job whose run raised:

- an outage (the database or the broker is away) is logged as a warning and retried with
  back-off;
- any other exception is logged with its traceback, counted in
  `yiwang_background_job_failures_total{kind="error"}` and retried with back-off, so one
  bad row cannot stop deadlines from firing for good.

A job that ends any other way (it returned, or something it cannot recover from, such as
a cancellation it did not ask for, escaped) has stopped: `/healthz` turns red and names it,
so the orchestrator restarts the process instead of leaving it running half-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from yiwang.common.logs import get_logger
from yiwang.common.outages import is_outage

log = get_logger(__name__)

JOB_FAILURES = Counter(
    "yiwang_background_job_failures_total",
    "Background job runs that raised, by kind (outage: database or broker away; error: a fault)",
    ["service", "job", "kind"],
)
JOB_UP = Gauge(
    "yiwang_background_job_up",
    "1 while a background job runs, 0 once it has stopped for good",
    ["service", "job"],
)

MAX_BACKOFF_SECONDS = 30.0
# A run that lasted this long before it failed starts the back-off from the beginning.
HEALTHY_RUN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[], Awaitable[None]]


def every(
    name: str, seconds: float, tick: Callable[[], Awaitable[object]], *, first_delay: float = 0.0
) -> Job:
    """A periodic job: `tick` does one round of work; while it returns something truthy
    (more is waiting) it runs again at once, else after `seconds` of real time."""

    async def run() -> None:
        await asyncio.sleep(first_delay)
        while True:
            more = await tick()
            # While work is waiting, go on at once (letting requests and consumers in
            # between rounds); else wait for the next round.
            await asyncio.sleep(0 if more else seconds)

    return Job(name, run)


def backoff(failures: int, *, base: float = 0.5) -> float:
    return float(min(base * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS))


class JobSupervisor:
    def __init__(self, *, service: str, jobs: Sequence[Job], backoff_base: float = 0.5) -> None:
        self.service = service
        self.jobs = list(jobs)
        self._backoff_base = backoff_base
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped: dict[str, str] = {}
        self._stopping = False

    def start(self) -> None:
        for job in self.jobs:
            JOB_UP.labels(self.service, job.name).set(1)
            task = asyncio.create_task(self._supervise(job), name=f"job:{job.name}")
            task.add_done_callback(functools.partial(self._ended, job.name))
            self._tasks[job.name] = task

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(BaseException):  # each job's end was recorded by _ended
                await task
        self._tasks.clear()

    def stopped(self) -> dict[str, str]:
        """The jobs that ended while the service runs, with why."""
        return dict(self._stopped)

    async def _supervise(self, job: Job) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await job.run()
            except Exception as exc:
                if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                    failures = 0
                failures += 1
                wait = backoff(failures, base=self._backoff_base)
                if is_outage(exc):
                    JOB_FAILURES.labels(self.service, job.name, "outage").inc()
                    log.warning(
                        "background job: database or broker away; retrying",
                        job=job.name,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in=wait,
                    )
                else:
                    JOB_FAILURES.labels(self.service, job.name, "error").inc()
                    log.exception("background job failed; retrying", job=job.name, retry_in=wait)
                await asyncio.sleep(wait)
            else:
                return  # a job that returns has stopped: _ended records it

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        if self._stopping:
            return
        JOB_UP.labels(self.service, name).set(0)
        if task.cancelled():
            reason = "cancelled"
        elif (exc := task.exception()) is not None:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "returned"
        self._stopped[name] = reason
        log.error("background job stopped; the service is not healthy", job=name, reason=reason)
