"""The job supervisor: one error policy, and /healthz red when a job stops."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from fastapi import FastAPI
from yiwang.common.http import health_router
from yiwang.common.jobs import JOB_FAILURES, JOB_UP, Job, JobSupervisor, every


class Fatal(BaseException):
    """Something no job recovers from (BaseException: the supervisor does not retry it)."""


def failures(service: str, job: str, kind: str) -> float:
    return JOB_FAILURES.labels(service, job, kind)._value.get()


def app_for(supervisor: JobSupervisor) -> FastAPI:
    app = FastAPI()

    async def ready() -> bool:
        return True

    app.include_router(health_router(checks={"db": ready}, stopped_jobs=supervisor.stopped))
    return app


async def healthz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/healthz")


async def test_an_unexpected_exception_is_counted_and_the_job_keeps_running() -> None:
    ticks: list[int] = []

    async def tick() -> bool:
        ticks.append(len(ticks))
        if len(ticks) in (2, 3):
            raise ValueError("a row the sweep cannot read")
        return False

    supervisor = JobSupervisor(
        service="svc-a", jobs=[every("sweep", 0.01, tick)], backoff_base=0.01
    )
    supervisor.start()
    try:
        for _ in range(200):
            if len(ticks) >= 6:
                break
            await asyncio.sleep(0.01)
        assert len(ticks) >= 6  # it went on after both failures
        assert failures("svc-a", "sweep", "error") == 2
        assert failures("svc-a", "sweep", "outage") == 0
        assert supervisor.stopped() == {}
        response = await healthz(app_for(supervisor))
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        await supervisor.stop()


async def test_an_outage_is_retried_and_counted_apart() -> None:
    calls = 0

    async def tick() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return False

    supervisor = JobSupervisor(
        service="svc-b", jobs=[every("timers", 0.01, tick)], backoff_base=0.01
    )
    supervisor.start()
    try:
        for _ in range(200):
            if calls >= 3:
                break
            await asyncio.sleep(0.01)
        assert calls >= 3
        assert failures("svc-b", "timers", "outage") == 1
        assert failures("svc-b", "timers", "error") == 0
    finally:
        await supervisor.stop()


async def test_a_stopped_job_turns_healthz_red_and_names_it() -> None:
    async def healthy() -> None:
        await asyncio.Event().wait()

    async def doomed() -> None:
        await asyncio.sleep(0.01)
        raise Fatal("gave up")

    supervisor = JobSupervisor(
        service="svc-c", jobs=[Job("relay", healthy), Job("sla-timers", doomed)]
    )
    supervisor.start()
    try:
        for _ in range(100):
            if supervisor.stopped():
                break
            await asyncio.sleep(0.01)
        response = await healthz(app_for(supervisor))
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "failing"
        assert list(body["stopped_jobs"]) == ["sla-timers"]
        assert "Fatal" in body["stopped_jobs"]["sla-timers"]
        assert JOB_UP.labels("svc-c", "sla-timers")._value.get() == 0
        assert JOB_UP.labels("svc-c", "relay")._value.get() == 1
    finally:
        await supervisor.stop()


async def test_a_job_that_returns_has_stopped_too() -> None:
    async def done() -> None:
        return None

    supervisor = JobSupervisor(service="svc-d", jobs=[Job("seed", done)])
    supervisor.start()
    try:
        await asyncio.sleep(0.05)
        assert supervisor.stopped() == {"seed": "returned"}
    finally:
        await supervisor.stop()


async def test_stopping_the_service_is_not_a_failure() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor = JobSupervisor(service="svc-e", jobs=[Job("gauges", forever)])
    supervisor.start()
    await asyncio.sleep(0.01)
    await supervisor.stop()
    assert supervisor.stopped() == {}
