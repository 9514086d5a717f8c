"""The integration harness: real Kafka and real PostgreSQL, started if not running.

`infra/stack.py up` starts what is missing (or checks the servers named by
KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL); if this session started them, it stops them at
the end unless YIWANG_KEEP_INFRA=1. Each test gets its own schema and its own topics, so
tests do not see each other's records.

Kafka is the local broker's SASL_SSL listener (there is no other): the tests' own clients
connect as yiwang-tools (the settings `infra/stack.py env` prints go into the environment),
each service under test as its own user (support.KAFKA_USERS), with ACLs for the test
module's topic prefix that are revoked when the session ends.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from support import (
    CREATED_TEST_TOPICS,
    KAFKA_USERS,
    TEST_PREFIX,
    create_test_topics,
    kafka_options,
)

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "infra" / "stack.py"


def _stack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STACK), *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def infra() -> Iterator[dict[str, str]]:
    status = _stack("status")
    already_running = status.returncode == 0 and "not running" not in status.stdout
    up = _stack("up")
    if up.returncode != 0:
        pytest.fail(
            f"could not start Kafka and PostgreSQL: {up.stderr.strip() or up.stdout.strip()}"
        )
    settings = dict(line.split("=", 1) for line in _stack("env").stdout.splitlines() if "=" in line)
    os.environ.update(settings)
    # Services under test start with the development keys they ship with (a test that
    # checks they refuse them elsewhere unsets this for its own process).
    os.environ.setdefault("YIWANG_ENV", "development")
    yield settings
    live = KAFKA_USERS.live_prefixes()  # before this session's own are revoked
    mine = list(KAFKA_USERS.granted)
    KAFKA_USERS.revoke_all()
    asyncio.run(delete_test_topics(settings["KAFKA_BOOTSTRAP_SERVERS"], mine, live))
    if not already_running and os.environ.get("YIWANG_KEEP_INFRA") != "1":
        _stack("down")


# The topics tests make: a module's prefixed set ("t1a2b3c4d.case.routed.v1") and single
# test topics ("test.0123456789.v1"). Left behind, they add up to thousands of partitions.
TEST_TOPIC = re.compile(r"^(t[0-9a-f]{8}\.|test\.[0-9a-f]{10}\.v1)")


async def delete_test_topics(kafka: str, mine: list[str], live: set[str] | None) -> None:
    """This session's test topics, and those of sessions that are gone. Several sessions
    may share the broker, and a service creates only its own topics: deleting another
    session's would stop its services. A prefix is in use while its ACLs are granted
    (`live`, from the broker; None when it is not the local stack's: then only this
    session's prefixes), and a session grants them before making any of its topics."""
    admin = AIOKafkaAdminClient(**kafka_options(kafka))

    def is_doomed(topic: str) -> bool:
        if topic in CREATED_TEST_TOPICS or topic.startswith(tuple(mine)):
            return True
        prefix = TEST_PREFIX.match(topic)
        return live is not None and prefix is not None and prefix.group(0) not in live

    try:
        await admin.start()
        doomed = [t for t in await admin.list_topics() if TEST_TOPIC.match(t) and is_doomed(t)]
        for start in range(0, len(doomed), 200):
            await admin.delete_topics(doomed[start : start + 200])
    except Exception as exc:  # cleaning up must not fail the run
        print(f"could not delete test topics: {exc}")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def kafka(infra: dict[str, str]) -> str:
    return infra["KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture(scope="session")
def database_url(infra: dict[str, str]) -> str:
    return infra["DATABASE_URL"]


@pytest.fixture
async def schema(database_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def topic(kafka: str) -> str:
    """A fresh topic (and its dead-letter topic) for one test."""
    name = f"test.{uuid.uuid4().hex[:10]}.v1"
    await create_test_topics(kafka, [name, f"{name}.dlq"])
    return name
