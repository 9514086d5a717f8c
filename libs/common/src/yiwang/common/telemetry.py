"""Tracing (OpenTelemetry) and metrics (Prometheus) shared by every service.

Spans are always recorded so that `traceparent` carries one trace per case across
services; they are exported only when the standard OTEL_* variables ask for OTLP.
"""

from __future__ import annotations

import os
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
    exporting = otlp_requested()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", f"yiwang-{service}")}
        ),
        # With nowhere to send them, spans are not recorded (no attributes, no timings),
        # yet each still has its context: trace ids go on in the records' traceparent.
        sampler=None if exporting else ALWAYS_OFF,
    )
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer("yiwang")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


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
    with tracer().start_as_current_span(
        f"{topic} process",
        context=context_from_traceparent(envelope.traceparent),
        kind=SpanKind.CONSUMER,
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
