"""A server span per HTTP request, so a case submitted over HTTP starts its trace there.

Events a handler emits inside the request carry this span's `traceparent` (the unit of
work reads the current span), which makes intake's request the root of the case's trace.
An incoming W3C `traceparent` header (a county platform that traces) becomes the parent.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yiwang.common.telemetry import exporting, tracer
from yiwang.common.telemetry import span as span_of

_PROPAGATOR = TraceContextTextMapPropagator()
# Probes and scrapes would bury the cases' traces.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class TracingMiddleware:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not exporting():  # the span's context alone: nothing records it
            with span_of(
                "", kind=SpanKind.SERVER, traceparent=headers.get("traceparent"), root=True
            ):
                await self.app(scope, receive, send)
            return
        parent = _PROPAGATOR.extract(headers)
        method = scope["method"]
        with tracer().start_as_current_span(
            f"{method} {scope['path']}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "yiwang.service": self.service},
        ) as span:
            status = 500

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                # The route template, not the path: case ids stay out of span names.
                template = getattr(scope.get("route"), "path", None) or "unmatched"
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
