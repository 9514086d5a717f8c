"""HTTP plumbing every service shares: /healthz, /readyz, /metrics and RED metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yiwang.common.access import PUBLIC
from yiwang.common.telemetry import HTTP_REQUESTS, HTTP_SECONDS

ReadinessCheck = Callable[[], Awaitable[bool]]
# The background jobs that have stopped, with why: any makes the process unhealthy.
StoppedJobs = Callable[[], Mapping[str, str]]


def health_router(
    *, checks: dict[str, ReadinessCheck], stopped_jobs: StoppedJobs | None = None
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        summary="Liveness: the process is up and its background jobs run",
        openapi_extra=PUBLIC,
    )
    async def healthz() -> JSONResponse:
        stopped = dict(stopped_jobs()) if stopped_jobs is not None else {}
        if stopped:
            return JSONResponse({"status": "failing", "stopped_jobs": stopped}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", summary="Readiness: database and broker answer", openapi_extra=PUBLIC)
    async def readyz() -> JSONResponse:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await asyncio.wait_for(check(), timeout=2.0)
            except Exception:
                results[name] = False
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class MetricsMiddleware:
    """Counts and times every request by its route template (bounded label values)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_SECONDS.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )
