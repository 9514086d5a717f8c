"""Spans without export: their context alone, as the SDK's unsampled spans had it."""

from __future__ import annotations

import re

from opentelemetry.trace import SpanKind
from yiwang.common import telemetry
from yiwang.common.telemetry import child_traceparent, current_traceparent, span

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SHAPE = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-00$")


def test_a_child_keeps_its_parents_trace_with_a_new_span() -> None:
    child = child_traceparent(PARENT)
    assert SHAPE.match(child)
    assert child.split("-")[1] == PARENT.split("-")[1]
    assert child.split("-")[2] != PARENT.split("-")[2]


def test_a_missing_or_invalid_parent_starts_a_new_trace() -> None:
    for parent in (
        None,
        "00-abc-def-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    ):
        child = child_traceparent(parent)
        assert SHAPE.match(child), parent
        assert child.split("-")[1] != PARENT.split("-")[1]
    assert child_traceparent(None).split("-")[1] != child_traceparent(None).split("-")[1]


def test_a_later_version_with_more_fields_is_read() -> None:
    later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more"
    assert child_traceparent(later).split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


def test_spans_nest_and_end_without_export() -> None:
    assert not telemetry.exporting()
    assert current_traceparent() is None
    with span("outer", kind=SpanKind.CONSUMER, traceparent=PARENT):
        outer = current_traceparent()
        assert outer is not None
        assert outer.split("-")[1] == PARENT.split("-")[1]
        with span("inner", kind=SpanKind.INTERNAL):  # no parent given: the current span's
            inner = current_traceparent()
            assert inner is not None
            assert inner.split("-")[1] == outer.split("-")[1]
            assert inner != outer
        assert current_traceparent() == outer
    assert current_traceparent() is None


def test_an_http_request_continues_the_callers_trace_without_export() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from yiwang.common.http_tracing import TracingMiddleware

    app = FastAPI()
    app.add_middleware(TracingMiddleware, service="intake")

    @app.get("/cases")
    async def cases() -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}

    with TestClient(app) as client:
        called = client.get("/cases", headers={"traceparent": PARENT}).json()["traceparent"]
        fresh = client.get("/cases").json()["traceparent"]
    assert SHAPE.match(called)
    assert called.split("-")[1] == PARENT.split("-")[1]
    assert SHAPE.match(fresh)
    assert fresh.split("-")[1] != PARENT.split("-")[1]


def test_an_invalid_parent_or_a_root_span_starts_a_new_trace_inside_another() -> None:
    with span("outer", kind=SpanKind.CONSUMER, traceparent=PARENT):
        for inner in (
            span("invalid parent", kind=SpanKind.CONSUMER, traceparent="00-abc-def-01"),
            span("request", kind=SpanKind.SERVER, root=True),
        ):
            with inner:
                started = current_traceparent()
                assert started is not None
                assert started.split("-")[1] != PARENT.split("-")[1]
    too_long = "01" + PARENT[2:] + "-" + "x" * 600  # read when short (a later version)
    assert child_traceparent(too_long).split("-")[1] != PARENT.split("-")[1]
