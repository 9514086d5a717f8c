"""Shared by the benchmarks: a service as its own process with its own database and topic
prefix on the local stack (reusing the integration tests' support code): the benchmark
connects as yiwang-tools, the service as its own Kafka user, with ACLs for the run's prefix."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support import (  # noqa: E402
    KAFKA_USERS,
    ServiceProcess,
    create_database,
    drop_database,
    kafka_options,
)


def stack_settings() -> dict[str, str]:
    """Start (or find) the local stack and return its settings, which also go into this
    process's environment (its own Kafka clients connect as yiwang-tools)."""
    up = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), "up"], capture_output=True, text=True
    )
    if up.returncode != 0:
        sys.exit(up.stderr.strip())
    env = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), "env"], capture_output=True, text=True
    )
    settings = dict(line.split("=", 1) for line in env.stdout.splitlines() if "=" in line)
    os.environ.update(settings)
    return settings


def unique_prefix() -> str:
    return f"b{uuid.uuid4().hex[:8]}."


async def delete_topics(kafka: str, prefix: str) -> None:
    """Remove a run's topics (left behind, benchmark runs add up to thousands of
    partitions) and the ACLs granted for its prefix."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_options(kafka))
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
        KAFKA_USERS.revoke_all()


def log_path(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / f"{name}.log"


__all__ = [
    "KAFKA_USERS",
    "ServiceProcess",
    "create_database",
    "delete_topics",
    "drop_database",
    "kafka_options",
    "log_path",
    "os",
    "stack_settings",
    "unique_prefix",
]


def cpu_reference() -> float:
    """Milliseconds one core takes for a fixed pure-Python workload (best of three):
    figures from machines whose reference differs are compared in proportion to it."""
    import hashlib
    import json as json_module
    import time

    case = {"category": "sanitation", "title": "楼道堆放杂物", "lon": 112.56, "lat": 37.87}

    def workload() -> None:
        total = 0
        for i in range(300_000):
            total += i % 7
        for _ in range(20_000):
            json_module.loads(json_module.dumps(case))
        hashlib.sha256(b"x" * 8_000_000).hexdigest()

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        workload()
        best = min(best, time.perf_counter() - started)
    return 1000 * best
