"""Tracing (OpenTelemetry) and metrics (Prometheus) shared by every service.

Every record and request has a span context, so that `traceparent` carries one trace per
case across services. Spans are recorded and exported only when the standard OTEL_*
variables ask for OTLP; otherwise a span is its context alone (the parent's trace id and
a new span id, in a context variable), without the SDK, which cost ~54 us a span.
Processes that never configure tracing (tools, tests) make such spans too.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge, Histogram
from yiwang.common.envelope import Envelope

_PROPAGATOR = TraceContextTextMapPropagator()
# Set by configure_tracing: spans go through the SDK only when they are exported.
_EXPORTING = False
_TRACER: trace.Tracer | None = None
# Without export, the traceparent of the current span (None: none is open).
_CURRENT: ContextVar[str | None] = ContextVar("yiwang_traceparent", default=None)
# W3C trace context, as the SDK's propagator reads it.
_TRACEPARENT = re.compile(
    r"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*$"
)
_MAX_HEADER = 512


def otlp_requested(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").lower()
    if exporter:
        return "otlp" in exporter.split(",")
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(*, service: str) -> TracerProvider:
    export = otlp_requested()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", f"yiwang-{service}")}
        ),
        # With nowhere to send them, spans are not recorded (no attributes, no timings),
        # yet each still has its context: trace ids go on in the records' traceparent.
        sampler=None if export else ALWAYS_OFF,
    )
    if export:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    global _EXPORTING, _TRACER
    # The global provider's tracer: the one just set, unless one was set before.
    _EXPORTING, _TRACER = export, trace.get_tracer("yiwang")
    return provider


def exporting() -> bool:
    return _EXPORTING


def tracer() -> trace.Tracer:
    return _TRACER or trace.get_tracer("yiwang")


def current_traceparent() -> str | None:
    if not _EXPORTING:
        return _CURRENT.get()
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind,
    traceparent: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    root: bool = False,
) -> Iterator[None]:
    """The current span while the block runs. Its parent: `traceparent` when given (an
    invalid one starts a new trace, as the SDK's propagator has it); without it, the
    current span, unless `root` (a request from outside starts its own trace). Recorded,
    with `name` and `attributes`, only when exported."""
    if _EXPORTING:
        context = context_from_traceparent(traceparent)
        with tracer().start_as_current_span(
            name, context=Context() if root and context is None else context, kind=kind,
            attributes=attributes,
        ):  # fmt: skip
            yield
        return
    parent = traceparent or (None if root else _CURRENT.get())
    token = _CURRENT.set(child_traceparent(parent))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def child_traceparent(parent: str | None) -> str:
    """A new span's traceparent: the parent's trace, or a new one when the parent is
    missing or invalid. Not sampled, as the SDK's sampler left it when nothing records."""
    found = _TRACEPARENT.match(parent) if parent and len(parent) <= _MAX_HEADER else None
    trace_id = found[2] if found and _valid(found) else None
    span_id = random.getrandbits(64) or 1
    return f"00-{trace_id or f'{random.getrandbits(128) or 1:032x}'}-{span_id:016x}-00"


def _valid(found: re.Match[str]) -> bool:
    version, trace_id, span_id, _, rest = found.groups()
    return (
        version != "ff"
        and not (version == "00" and rest)
        and trace_id != "0" * 32
        and span_id != "0" * 16
    )


def context_from_traceparent(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


# The topic of each record of the batch being handled, by event id (set by the subscriber;
# a subscription may take several topics), for `handling()`.
CONSUMING_TOPICS: ContextVar[Mapping[str, str] | None] = ContextVar(
    "yiwang_consuming_topics", default=None
)


@contextmanager
def handling(envelope: Envelope[Any]) -> Iterator[None]:
    """Within a batch handler, the span of one record's part: the events emitted inside
    carry that record's trace, so each case stays one trace through a batched service."""
    topic = (CONSUMING_TOPICS.get() or {}).get(envelope.id, "batch")
    with span(
        f"{topic} process",
        kind=SpanKind.CONSUMER,
        traceparent=envelope.traceparent,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.message.id": envelope.id,
            "yiwang.case_id": envelope.subject,
        },
    ):
        yield


# --- metrics: one definition each, labelled by service --------------------------------

EVENTS_CONSUMED = Counter(
    "yiwang_events_consumed_total",
    "Records taken from a topic, by outcome (handled, duplicate, skipped, dead_lettered, failed)",
    ["service", "topic", "outcome"],
)
EVENT_HANDLING_SECONDS = Histogram(
    "yiwang_event_handling_seconds",
    "Time to handle one consumed record, database commit included",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DEAD_LETTERS = Counter(
    "yiwang_dead_letters_total", "Records sent to a dead-letter topic", ["service", "topic"]
)
OUTBOX_BACKLOG = Gauge("yiwang_outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "yiwang_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "yiwang_outbox_published_total", "Events the outbox relay published", ["service", "topic"]
)
HTTP_REQUESTS = Counter(
    "yiwang_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "yiwang_http_request_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
