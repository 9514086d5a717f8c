"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
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
from yiwang.common.postgres.migrations import apply_migrations, common_migrations
from yiwang.common.producer import EventProducer

HERE = Path(__file__).resolve().parent


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
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
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
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    """One Yiwang service as its own process, as `make run` starts it, logging to a file."""

    def __init__(self, module: str, *, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
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
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.module} not ready in {within}s: {self.log_path.read_text()[-2000:]}"
        )

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
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
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
