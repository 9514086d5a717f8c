"""SIGTERM drains and exits within 10 s even while the database or the broker is
unreachable, with a service process started on real servers, none of the shared ones
stopped:

- the database: the service's connections run through a proxy in the test; cutting the
  proxy makes PostgreSQL unreachable for that process only;
- the broker: the service runs on a Kafka broker of the test's own (PLAINTEXT, from the
  jars the local stack uses), which the test then kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from support import create_database, drop_database, free_port, new_topic_prefix

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
EXIT_WITHIN_SECONDS = 10.0
KAFKA_LIBS = Path(__file__).resolve().parents[2] / ".local" / "kafka" / "libs"


class TcpProxy:
    """Forwards a local port to `target`; `cut()` drops every connection and closes the
    port, as a database that went away does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()


async def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, tail(log)
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz", timeout=1)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise AssertionError(f"not ready: {tail(log)}")


async def seconds_to_exit(process: subprocess.Popen[bytes], *, limit: float = 30.0) -> float:
    assert process.poll() is None, "the service was running until told to stop"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(process.wait, limit)
    return time.monotonic() - started


def tail(log: Path) -> str:
    return log.read_text()[-3000:]


SERVICES = ["yiwang.mediation.app", "yiwang.department_dispatch.app", "yiwang.grid_routing.app"]


def launch(module: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**env, "YIWANG_TOPIC_PREFIX": PREFIX, "YIWANG_HTTP_PORT": str(port)}
    env.setdefault("YIWANG_ENV", "development")
    env["GRID_ROUTING_BOOTSTRAP_PRESET"] = "tiny"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=out)
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("module", SERVICES)
async def test_sigterm_exits_within_10_seconds_with_the_database_unreachable(
    infra: dict[str, str], tmp_path: Path, module: str
) -> None:
    database = await create_database(infra["DATABASE_URL"])
    server = urlsplit(database)
    proxy = await TcpProxy((server.hostname or "127.0.0.1", server.port or 5432)).start()
    through_proxy = urlunsplit(
        server._replace(netloc=server.netloc.replace(f":{server.port}", f":{proxy.port}"))
    )
    log = tmp_path / "service.log"
    process, url = launch(module, {**os.environ, "DATABASE_URL": through_proxy}, log)
    try:
        await wait_ready(url, process, log)
        proxy.cut()
        await asyncio.sleep(3)  # its jobs, relay and health checks find the database gone
        took = await seconds_to_exit(process)
        assert process.poll() is not None, f"still running: {tail(log)}"
        assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f}s: {tail(log)}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        proxy.cut()
        await drop_database(infra["DATABASE_URL"], database)


async def broker_answers(bootstrap: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except KafkaError:
            assert time.monotonic() < deadline, "the test's broker did not start"
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def waiting_event(database: str, *, schema: str) -> None:
    """An event in the service's outbox, so that its relay is sending when told to stop."""
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            f'INSERT INTO "{schema}".outbox (topic, key, value, headers)'
            " VALUES ($1, 'case-1', '{}', '[]')",
            f"{PREFIX}case.lifecycle.v1",
        )
    finally:
        await conn.close()


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A single-node PLAINTEXT KRaft broker of this test's own; (bootstrap, its process)."""
    port, controller = free_port(), free_port()
    data = Path(tempfile.mkdtemp(prefix="yiwang-private-kafka-"))
    props = tmp_path / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=3",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "num.network.threads=1",
                "num.io.threads=2",
            ]
        )
        + "\n"
    )
    java = ["java", "-Xmx384m", "-Xms128m", "-XX:+UseSerialGC", "-cp", f"{KAFKA_LIBS}/*"]
    storage = ["kafka.tools.StorageTool", "format", "--config", str(props), "--ignore-formatted"]
    formatted = subprocess.run(
        [*java, *storage, "--cluster-id", "yiwangShutdownTest0001"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert formatted.returncode == 0, formatted.stderr[-2000:]
    with (tmp_path / "kafka.log").open("ab") as out:
        broker = subprocess.Popen(
            [*java, f"-Dkafka.logs.dir={tmp_path}", "kafka.Kafka", str(props)],
            stdout=out,
            stderr=out,
        )
    try:
        yield f"127.0.0.1:{port}", broker
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait()


@pytest.mark.parametrize("module", SERVICES)
async def test_sigterm_exits_within_10_seconds_with_the_broker_unreachable(
    infra: dict[str, str],
    tmp_path: Path,
    module: str,
    private_kafka: tuple[str, subprocess.Popen[bytes]],
) -> None:
    bootstrap, broker = private_kafka
    database = await create_database(infra["DATABASE_URL"])
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_SASL_", "KAFKA_SSL_", "KAFKA_SECURITY"))
    }
    env |= {
        "DATABASE_URL": database,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    }
    await broker_answers(bootstrap)
    log = tmp_path / "service.log"
    process, url = launch(module, env, log)
    try:
        await wait_ready(url, process, log)
        broker.kill()  # the test's own broker: gone, as a stopped one is
        broker.wait()
        await waiting_event(database, schema=module.split(".")[1])
        await asyncio.sleep(3)  # its relay, consumers and lag monitor find the broker gone
        took = await seconds_to_exit(process)
        assert process.poll() is not None, f"still running: {tail(log)}"
        assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f}s: {tail(log)}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await drop_database(infra["DATABASE_URL"], database)
