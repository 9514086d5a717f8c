"""The five services as separate processes, as `make run` starts them: healthy, ready,
consuming through the common plumbing, and failing with one clear line when they cannot
start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from service_fixtures import ALL_SERVICES, services_under_test
from support import ServiceProcess, free_port, kafka_options, new_topic_prefix, publish_events
from waiting import eventually
from yiwang.common import asyncapi
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()  # this module's own topics and consumer groups

five_services = services_under_test(ALL_SERVICES, prefix=PREFIX)


def test_each_service_is_healthy_ready_and_exports_metrics(
    five_services: dict[str, ServiceProcess],
) -> None:
    for name, service in five_services.items():
        base = service.url
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}, name
        ready = httpx.get(f"{base}/readyz").json()
        assert ready == {"status": "ready", "checks": {"database": True, "kafka": True}}, name
        metrics = httpx.get(f"{base}/metrics").text
        assert "yiwang_http_requests_total" in metrics, name
        assert httpx.get(f"{base}/openapi.json").status_code == 200, name


async def test_a_service_consumes_its_topic_through_the_inbox(
    five_services: dict[str, ServiceProcess], kafka: str
) -> None:
    case_id = str(uuid.uuid4())
    envelope = Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=CaseState.RECEIVED,
            to_state=CaseState.ROUTED,
            actor="grid-routing",
            at=datetime.now(UTC),
        ),
        source="/yiwang/test",
    )
    redelivered = (CASE_LIFECYCLE, envelope)
    await publish_events(kafka, redelivered, redelivered, prefix=PREFIX)
    conn = await asyncpg.connect(five_services["oversight"].database_url)

    async def inbox_rows() -> dict[str, int]:
        return {
            schema: await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = $1', envelope.id
            )
            for schema in ("oversight", "intake")  # both consume case.lifecycle.v1
        }

    try:
        seen = await eventually(inbox_rows, until=lambda seen: all(seen.values()), every=0.2)
        assert seen == {"oversight": 1, "intake": 1}
    finally:
        await conn.close()


def test_each_service_serves_its_part_of_the_event_contract(
    five_services: dict[str, ServiceProcess],
) -> None:
    for name, service in five_services.items():
        part = httpx.get(f"{service.url}/asyncapi.json").json()
        assert part == asyncapi.document(service=name), name
        schema = httpx.get(f"{service.url}/asyncapi/schemas/yiwang.case.routed.v1.json")
        assert schema.json()["$id"] == "urn:yiwang:schema:yiwang.case.routed.v1"
        assert httpx.get(f"{service.url}/asyncapi/schemas/nope.json").status_code == 404


@pytest.mark.parametrize("mode", ["structured", "binary"])
async def test_records_from_the_cloudevents_sdk_are_consumed_in_either_mode(
    five_services: dict[str, ServiceProcess], kafka: str, mode: str
) -> None:
    change = CaseStateChanged(
        case_id=str(uuid.uuid4()),
        from_state=CaseState.RECEIVED,
        to_state=CaseState.ROUTED,
        actor="grid-routing",
        at=datetime.now(UTC),
    )
    event = CloudEvent(
        attributes={
            "type": change.event_type,
            "source": "/county-platform/test",
            "subject": change.case_id,
            "datacontenttype": "application/json",
        },
        data=change.model_dump(mode="json"),
    )
    message = to_structured_event(event) if mode == "structured" else to_binary_event(event)
    producer = AIOKafkaProducer(**kafka_options(kafka))
    await producer.start()
    try:
        await producer.send_and_wait(
            PREFIX + CASE_LIFECYCLE,
            value=message.value,
            key=change.case_id.encode(),
            headers=[(k, v) for k, v in message.headers.items()],
        )
    finally:
        await producer.stop()
    conn = await asyncpg.connect(five_services["oversight"].database_url)

    async def applied() -> dict[str, int]:
        # The inbox row is written in the handler's own transaction: it was applied.
        return {
            schema: await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = $1', event.get_id()
            )
            for schema in ("oversight", "intake")
        }

    try:
        seen = await eventually(applied, until=lambda seen: all(seen.values()), every=0.2)
        assert seen == {"oversight": 1, "intake": 1}
    finally:
        await conn.close()


def start_failing(
    module: str, env: dict[str, str], *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Start a service that is expected to exit at once."""
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_port_in_use_is_one_clear_line(infra: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = start_failing("yiwang.oversight.app", {**infra, "YIWANG_HTTP_PORT": str(port)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"yiwang-oversight: port {port} is already in use; stop what holds it "
        "(e.g. 'make stop') or set YIWANG_HTTP_PORT to another port"
    )


def test_a_database_that_refuses_connections_is_one_clear_line(infra: dict[str, str]) -> None:
    closed = free_port()
    result = start_failing(
        "yiwang.mediation.app",
        {
            **infra,
            "DATABASE_URL": f"postgresql://yiwang:secret@127.0.0.1:{closed}/yiwang",
            "YIWANG_HTTP_PORT": str(free_port()),
        },
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"yiwang-mediation: cannot connect to PostgreSQL at postgresql://yiwang:***@127.0.0.1:{closed}/yiwang"
    )
    assert "secret" not in lines[0]
    assert "make infra" in lines[0]


def test_a_broker_that_is_not_there_is_one_clear_line(infra: dict[str, str]) -> None:
    result = start_failing(
        "yiwang.grid_routing.app",
        {
            **infra,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "YIWANG_HTTP_PORT": str(free_port()),
        },
        timeout=90,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("yiwang-grid-routing: cannot reach Kafka at 127.0.0.1:")
    assert "make infra" in lines[0]


def test_kafka_security_settings_that_are_missing_are_one_clear_line(
    infra: dict[str, str],
) -> None:
    assert infra.get("KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", "needs the local SASL_SSL broker"
    env = {**infra, "YIWANG_HTTP_PORT": str(free_port()), "KAFKA_SASL_USERNAME": "yiwang-intake"}
    no_password = start_failing("yiwang.intake.app", {**env, "KAFKA_SASL_PASSWORD": ""})
    assert no_password.returncode == 2
    assert no_password.stderr.strip() == (
        "yiwang-intake: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_PASSWORD, the password "
        "of Kafka user 'yiwang-intake'"
    )
    no_ca = start_failing("yiwang.intake.app", {**env, "KAFKA_SSL_CA_FILE": ""})
    assert no_ca.returncode == 2
    assert no_ca.stderr.strip().splitlines() == [
        "yiwang-intake: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SSL_CA_FILE, the CA "
        "certificate (PEM) that signed the brokers' certificates"
    ]
