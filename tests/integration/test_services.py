"""The five services as separate processes, as `make run` starts them: healthy, ready,
consuming through the common plumbing, and failing with one clear line when they cannot
start."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.kafka import EventProducer
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE

pytestmark = pytest.mark.integration

SERVICES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def test_database(infra: dict[str, str]) -> Iterator[str]:
    """A database of its own, so the services' fixed schemas start empty."""
    base = infra["DATABASE_URL"]
    name = f"yiwang_svc_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


PREFIX = f"t{uuid.uuid4().hex[:8]}."  # this module's own topics and consumer groups


@pytest.fixture(scope="module")
def five_services(infra: dict[str, str], test_database: str) -> Iterator[dict[str, int]]:
    ports = {name: free_port() for name in SERVICES}
    processes = {}
    for name, module in SERVICES.items():
        env = {
            **os.environ,
            **infra,
            "DATABASE_URL": test_database,
            "YIWANG_HTTP_PORT": str(ports[name]),
            "YIWANG_OUTBOX_POLL_SECONDS": "0.2",
            "YIWANG_TOPIC_PREFIX": PREFIX,
        }
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if processes[name].poll() is not None:
                    out = processes[name].stdout.read().decode() if processes[name].stdout else ""
                    pytest.fail(f"{name} exited during start-up:\n{out[-2000:]}")
                try:
                    if (
                        httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=1).status_code
                        == 200
                    ):
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        assert not pending, f"not ready in time: {pending}"
        yield ports
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_each_service_is_healthy_ready_and_exports_metrics(five_services: dict[str, int]) -> None:
    for name, port in five_services.items():
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}, name
        ready = httpx.get(f"{base}/readyz").json()
        assert ready == {"status": "ready", "checks": {"database": True, "kafka": True}}, name
        metrics = httpx.get(f"{base}/metrics").text
        assert "yiwang_http_requests_total" in metrics, name
        assert httpx.get(f"{base}/openapi.json").status_code == 200, name


async def test_a_service_consumes_its_topic_through_the_inbox(
    five_services: dict[str, int], test_database: str, kafka: str
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
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        await producer.publish(envelope, topic=PREFIX + CASE_LIFECYCLE)
        await producer.publish(envelope, topic=PREFIX + CASE_LIFECYCLE)  # redelivered
    finally:
        await producer.stop()
    conn = await asyncpg.connect(test_database)
    try:
        deadline = time.monotonic() + 30
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            seen = {
                schema: await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = $1', envelope.id
                )
                for schema in ("oversight", "intake")  # both consume case.lifecycle.v1
            }
            if all(seen.values()):
                break
            await asyncio.sleep(0.2)
        assert seen == {"oversight": 1, "intake": 1}
    finally:
        await conn.close()


def test_a_port_in_use_is_one_clear_line(infra: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "yiwang.oversight.app"],
            env={**os.environ, **infra, "YIWANG_HTTP_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"yiwang-oversight: port {port} is already in use; stop what holds it "
        "(e.g. 'make stop') or set YIWANG_HTTP_PORT to another port"
    )


def test_a_database_that_refuses_connections_is_one_clear_line(infra: dict[str, str]) -> None:
    closed = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "yiwang.mediation.app"],
        env={
            **os.environ,
            **infra,
            "DATABASE_URL": f"postgresql://yiwang:secret@127.0.0.1:{closed}/yiwang",
            "YIWANG_HTTP_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=60,
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
    result = subprocess.run(
        [sys.executable, "-m", "yiwang.grid_routing.app"],
        env={
            **os.environ,
            **infra,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "YIWANG_HTTP_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("yiwang-grid-routing: cannot reach Kafka at 127.0.0.1:")
    assert "make infra" in lines[0]
