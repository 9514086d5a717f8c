"""One trace per case: intake → grid-routing → department-dispatch → the department topic.

The three services run as separate processes exporting OTLP/HTTP (standard OTEL_*
variables) to a small receiver on loopback that this test runs and decodes with
opentelemetry-proto. A case submitted over intake's API must yield spans that share one
trace id, each service's span the child of the previous one's, and the work order on
the department topic must carry dispatch's span as its traceparent parent.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import shapely
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from service_fixtures import ALL_SERVICES, issue_intake_key, running_services, wait_for_grid_set
from support import new_topic_prefix, read_topic
from yiwang.common.topics import CASE_RECEIVED, CASE_ROUTED
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.geojson import read_feature_collections

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()


class Collected:
    """Spans received, as (service.name, span) pairs."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append((attributes.get("service.name", ""), span))

    def snapshot(self) -> list[tuple[str, Any]]:
        with self.lock:
            return list(self.spans)


@pytest.fixture(scope="module")
def otlp_receiver() -> Iterator[tuple[str, Collected]]:
    collected = Collected()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/traces":
                collected.add(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", collected
    server.shutdown()


@pytest.fixture(scope="module")
def pipeline(
    infra: dict[str, str],
    otlp_receiver: tuple[str, Collected],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver[0],
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "GRID_ROUTING_BOOTSTRAP_PRESET": "tiny",
        "YIWANG_DISPATCH_SIGNING_KEY": uuid.uuid4().hex,
    }
    modules = {
        name: ALL_SERVICES[name] for name in ("intake", "grid-routing", "department-dispatch")
    }
    logs = tmp_path_factory.mktemp("tracing")
    with running_services(infra, modules, prefix=PREFIX, env=env, log_dir=logs) as services:
        wait_for_grid_set(services["grid-routing"])
        key = issue_intake_key(services["intake"], platform="tracing")
        yield {"intake": services["intake"].url, "key": key, "logs": logs}


def _micro_grid_point() -> tuple[float, float]:
    network, _ = read_feature_collections(generate_county("tiny").items())
    micro_grid = sorted(network.micro_grids, key=lambda m: m.code)[2]
    point = shapely.point_on_surface(micro_grid.polygon)
    return float(point.x), float(point.y)


async def _work_order(kafka: str, case_id: str) -> Any:
    """The first record for this case on any department topic."""
    from yiwang.common.departments import Department
    from yiwang.common.topics import department_topic

    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        for department in Department:
            topic = PREFIX + department_topic(department)
            for record in await read_topic(kafka, topic, expect=0, within=0.3, settle=0):
                if record.key == case_id.encode():
                    return record
        await asyncio.sleep(0.5)
    raise AssertionError(f"no work order for {case_id} on any department topic")


def _spans_of(collected: Collected, trace_id: bytes, *, expect: int) -> list[tuple[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mine = [(svc, s) for svc, s in collected.snapshot() if s.trace_id == trace_id]
        if len(mine) >= expect:
            return mine
        time.sleep(0.2)
    return [(svc, s) for svc, s in collected.snapshot() if s.trace_id == trace_id]


def _descends_from(
    span: Any, ancestor: Any, tree: dict[bytes, tuple[str, Any]], *, via: str
) -> bool:
    """Whether span's parent chain reaches ancestor through spans of service `via` only."""
    parent = span.parent_span_id
    while parent in tree:
        service, node = tree[parent]
        if node.span_id == ancestor.span_id:
            return True
        if service != via:
            return False
        parent = node.parent_span_id
    shown = [(svc, s.name, s.span_id.hex(), s.parent_span_id.hex()) for svc, s in tree.values()]
    raise AssertionError(f"{span.name} does not descend from {ancestor.name}: {shown}")


async def test_a_case_is_one_trace_from_intake_to_the_department_topic(
    pipeline: dict[str, Any], otlp_receiver: tuple[str, Collected], kafka: str
) -> None:
    lon, lat = _micro_grid_point()
    async with httpx.AsyncClient(
        base_url=pipeline["intake"], headers={"X-API-Key": pipeline["key"]}, timeout=10
    ) as client:
        response = await client.post(
            "/v1/cases",
            json={
                "channel": "portal",
                # Township tier: a department work order (a grid-tier matter such as
                # sanitation would be a grid worker's task first).
                "category": "road-damage",
                "title": "路面破损",
                "description": "小区门口人行道塌陷",
                "location": {"lon": lon, "lat": lat},
            },
        )
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]

    work_order = await _work_order(kafka, case_id)
    traceparent = dict(work_order.headers)["traceparent"].decode()
    _, trace_hex, parent_hex, _ = traceparent.split("-")
    trace_id = bytes.fromhex(trace_hex)

    spans = _spans_of(otlp_receiver[1], trace_id, expect=3)
    named = {(svc, s.name): s for svc, s in spans}
    seen = sorted(named)
    intake = named.get(("yiwang-intake", "POST /v1/cases"))
    routing = named.get(("yiwang-grid-routing", f"{PREFIX}{CASE_RECEIVED} process"))
    dispatch = named.get(("yiwang-department-dispatch", f"{PREFIX}{CASE_ROUTED} process"))
    assert intake is not None, f"spans of trace {trace_hex}: {seen}"
    assert routing is not None, f"spans of trace {trace_hex}: {seen}"
    assert dispatch is not None, f"spans of trace {trace_hex}: {seen}"

    tree = {s.span_id: (svc, s) for svc, s in spans}
    assert intake.parent_span_id == b"", "intake's request is the root of the case's trace"
    # A service's span may sit under a child span of the previous one (FastAPI's own
    # endpoint span, say): walk up within the previous service only.
    assert _descends_from(routing, intake, tree, via="yiwang-intake")
    assert _descends_from(dispatch, routing, tree, via="yiwang-grid-routing")
    assert bytes.fromhex(parent_hex) == dispatch.span_id, "the work order's parent is dispatch"
    assert {s.trace_id for _, s in spans} == {trace_id}


def test_otlp_export_is_off_unless_the_otel_variables_ask_for_it() -> None:
    from yiwang.common.telemetry import otlp_requested

    assert not otlp_requested({})
    assert otlp_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert otlp_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not otlp_requested({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"})
    assert not otlp_requested({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
