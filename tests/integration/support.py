"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from waiting import eventually
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.envelope import Envelope, decode, encode
from yiwang.common.events import CaseReceived
from yiwang.common.kafka_security import kafka_client_options
from yiwang.common.postgres.migrations import apply_migrations, common_migrations
from yiwang.common.producer import EventProducer

HERE = Path(__file__).resolve().parent
STACK = HERE.parents[1] / "infra" / "stack.py"


def kafka_options(kafka: str) -> dict[str, Any]:
    """Keyword arguments for an aiokafka client of the tests: `kafka`, connected as the
    environment says (yiwang-tools over SASL_SSL, from `infra/stack.py env`)."""
    return {**kafka_client_options(), "bootstrap_servers": kafka}


# --- each service as its own Kafka user ------------------------------------------------


class KafkaUsers:
    """The local broker's service users, and the ACLs granted for test topic prefixes.

    Services under test run as their own users (`yiwang-<service>`, with the ACLs of
    yiwang.common.kafka_acls), so the suite proves those ACLs are enough. A test module's
    topics carry its own prefix (`t1a2b3c4d.`), and Kafka's PREFIXED patterns cannot match
    a name *inside* a prefix, so the harness grants each service user its literal topics
    and group prefix under the module's prefix before the first service of that prefix
    starts (`infra/stack.py acls grant`, as the broker's admin), and revokes them when the
    session ends. Against a broker that is not the local stack's, services keep the
    environment's settings and nothing is granted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passwords: dict[str, str] | None = None
        self.granted: list[str] = []

    def _stack(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(STACK), *args], capture_output=True, text=True, timeout=120
        )

    def passwords(self) -> dict[str, str]:
        """KAFKA_SASL_PASSWORD_<SERVICE> -> password; empty when the broker is not ours."""
        if self._passwords is None:
            done = self._stack("credentials")
            lines = done.stdout.splitlines() if done.returncode == 0 else []
            self._passwords = dict(line.split("=", 1) for line in lines if "=" in line)
        return self._passwords

    def env_of(self, service: str) -> dict[str, str]:
        """The Kafka user settings a service starts with (nothing if the broker is not ours)."""
        key = "KAFKA_SASL_PASSWORD_" + service.upper().replace("-", "_")
        password = self.passwords().get(key)
        if password is None:
            return {}
        return {"KAFKA_SASL_USERNAME": f"yiwang-{service}", "KAFKA_SASL_PASSWORD": password}

    def grant(self, prefix: str) -> None:
        """The service users' ACLs for topics under `prefix` (once per prefix)."""
        with self._lock:
            if not prefix or prefix in self.granted or not self.passwords():
                return
            done = self._stack("acls", "grant", "--prefix", prefix)
            if done.returncode != 0:
                raise RuntimeError(f"granting Kafka ACLs for {prefix!r} failed: {done.stderr}")
            self.granted.append(prefix)

    def live_prefixes(self) -> set[str] | None:
        """The test prefixes (`t1a2b3c4d.`) that have ACLs on the local broker: those of the
        sessions still running. None when the broker is not the local stack's."""
        if not self.passwords():
            return None
        done = self._stack("acls", "list")
        if done.returncode != 0:
            return None
        names = (line.split()[-1] for line in done.stdout.splitlines() if line.strip())
        return {m.group(0) for n in names if (m := TEST_PREFIX.match(n))}

    def revoke_all(self) -> None:
        with self._lock:
            if self.granted:
                args = [a for p in self.granted for a in ("--prefix", p)]
                done = self._stack("acls", "revoke", *args)
                if done.returncode != 0:
                    print(f"could not revoke the test prefixes' Kafka ACLs: {done.stderr}")
                self.granted.clear()


KAFKA_USERS = KafkaUsers()
# Every test topic prefix has this shape, so that conftest can tell whose it is and delete
# the topics of sessions that are gone.
TEST_PREFIX = re.compile(r"^t[0-9a-f]{8}\.")


def new_topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


# The single test topics this session made (conftest's `topic` fixture), deleted at its end.
CREATED_TEST_TOPICS: set[str] = set()


def service_of(module: str) -> str:
    """yiwang.department_dispatch.app -> department-dispatch"""
    return module.split(".")[1].replace("_", "-")


def case_received(case_id: str = "case-1") -> CaseReceived:
    return CaseReceived(
        case_id=case_id,
        case=CaseFacts(
            case_id=case_id,
            case_number="LZ-20261121-0001",
            category="sanitation",
            title="垃圾未清运",
            description="小区门口垃圾两天未清运",
            channel=Channel.PORTAL,
            location=Location(lon=112.56, lat=37.87),
        ),
        received_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    )


async def migrate(database_url: str, schema: str, extra_sql: str = "") -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, schema=schema, migrations=common_migrations())
        if extra_sql:
            await conn.execute(f'SET search_path TO "{schema}"; {extra_sql}')
    finally:
        await conn.close()


def run_relay(schema: str, *, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("YIWANG_CRASH_AT", None)
    if crash_at:
        env["YIWANG_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, str(HERE / "relay_once.py"), schema],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def create_test_topics(kafka: str, names: list[str], partitions: int = 1) -> None:
    CREATED_TEST_TOPICS.update(names)
    admin = AIOKafkaAdminClient(**kafka_options(kafka))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def read_topic(
    kafka: str, topic: str, *, expect: int, within: float = 20.0, settle: float = 1.0
) -> list[Any]:
    """Read a topic from the start until `expect` records arrived (or the time is up), then
    keep listening for `settle` seconds so that an unexpected extra record is seen too."""
    consumer = AIOKafkaConsumer(**kafka_options(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or {0}
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if len(records) >= expect:
                deadline = min(deadline, loop.time() + settle)
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this run: two services started together
    must not be given the same one (the kernel may offer a port again once it is closed)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


async def create_database(base_url: str) -> str:
    """A fresh database beside the one in base_url; returns its URL."""
    name = f"yiwang_t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(base_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class ServiceProcess:
    """One Yiwang service as its own process, as `make run` starts it, logging to a file:
    on the local stack as its own Kafka user (unless `own_kafka_user=False`, for a test
    that gives it other settings), with ACLs for its topic prefix."""

    def __init__(
        self, module: str, *, env: dict[str, str], log_path: Path, own_kafka_user: bool = True
    ) -> None:
        self.module = module
        self.service = service_of(module)
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KAFKA_SASL_PASSWORD_")},
            **env,
            **(KAFKA_USERS.env_of(self.service) if own_kafka_user else {}),
            "YIWANG_HTTP_PORT": str(self.port),
            "YIWANG_OUTBOX_POLL_SECONDS": "0.2",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to be ready."""
        KAFKA_USERS.grant(self.env.get("YIWANG_TOPIC_PREFIX", ""))
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=log, stderr=log
        )
        return self.process

    def start(self, *, within: float = 60.0) -> ServiceProcess:
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    # Ready, and this process is the one answering: its pid is on the port.
                    if self._answers_here():
                        return self
                    raise RuntimeError(f"another process answers on {self.url}, not {self.module}")
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.module} not ready in {within}s: {self.log_path.read_text()[-2000:]}"
        )

    def _answers_here(self) -> bool:
        """The service's own OpenAPI title names its package (yiwang.<name>.app)."""
        name = self.module.split(".")[1].replace("_", "-")
        title = httpx.get(f"{self.url}/openapi.json", timeout=2).json()["info"]["title"]
        return bool(title.lower().endswith(name))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """The service's operator command (`python -m <package>.cli`) on its database."""
        package = self.module.rsplit(".", 1)[0]
        return subprocess.run(
            [sys.executable, "-m", f"{package}.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


async def read_all(
    kafka: str, topics: list[str], *, quiet_for: float = 2.0, within: float = 30.0
) -> list[Any]:
    """Everything on these topics now: read from the start until nothing new for `quiet_for`."""
    consumer = AIOKafkaConsumer(**kafka_options(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        consumer.assign(
            [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or {0}]
        )
        await consumer.seek_to_beginning()
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline, last_new = loop.time() + within, loop.time()
        while loop.time() < deadline and loop.time() - last_new < quiet_for:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
                last_new = loop.time()
        return records
    finally:
        await consumer.stop()


async def publish_events(kafka: str, *items: tuple[str, Envelope[Any]], prefix: str = "") -> None:
    """Publish (topic, envelope) pairs in order, each topic under `prefix`."""
    producer = EventProducer(bootstrap_servers=kafka, client_id="test")
    await producer.start()
    try:
        # One batch: the idempotent producer keeps each partition's records in order.
        await producer.send_records(
            [encode(envelope, topic=prefix + topic) for topic, envelope in items]
        )
    finally:
        await producer.stop()


async def case_payloads(
    kafka: str, topic: str, case_id: str, *, expect: int, within: float = 20.0, settle: float = 0.0
) -> list[Any]:
    """The payloads on `topic` keyed by `case_id`, once `expect` of them arrived (or the time
    is up); with `settle`, read again that much later, so that an unexpected extra shows."""

    async def read() -> list[Any]:
        records = await read_topic(kafka, topic, expect=0, within=1, settle=0.3)
        return [decode(r.value, r.headers).payload for r in records if r.key == case_id.encode()]

    found = await eventually(read, until=lambda found: len(found) >= expect, within=within, every=0)
    if settle and len(found) >= expect:
        await asyncio.sleep(settle)
        found = await read()
    return found


_TOKENS: dict[str, tuple[float, str]] = {}


def token_for(username: str, *, issuer: str | None = None) -> str:
    """An access token from the real identity provider (the local Keycloak's demo realm,
    infra/devstack/keycloak_realm.py): users sign in as <username> / <username>-pass."""
    issuer = issuer or os.environ["YIWANG_OIDC_ISSUER"]
    cached = _TOKENS.get(f"{issuer}|{username}")
    if cached and cached[0] > time.monotonic() + 60:
        return cached[1]
    response = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "yiwang-api",
            "client_secret": "yiwang-api-secret",
            "username": username,
            "password": f"{username}-pass",
        },
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    _TOKENS[f"{issuer}|{username}"] = (time.monotonic() + body["expires_in"], body["access_token"])
    return str(body["access_token"])


def bearer(username: str) -> dict[str, str]:
    """The Authorization header of a person signed in at the identity provider."""
    return {"Authorization": f"Bearer {token_for(username)}"}


@asynccontextmanager
async def service_schemas(
    database_url: str, definition: Any, count: int = 2
) -> AsyncIterator[tuple[str, ...]]:
    """`count` fresh schemas, each with a service's migrations applied; dropped after."""
    from yiwang.common.runtime import service_migrations

    names = tuple(f"t_{uuid.uuid4().hex[:12]}" for _ in range(count))
    conn = await asyncpg.connect(database_url)
    try:
        for name in names:
            await apply_migrations(conn, schema=name, migrations=service_migrations(definition))
        yield names
    finally:
        for name in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()
