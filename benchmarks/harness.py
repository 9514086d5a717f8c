"""Shared by the benchmarks: a service as its own process with its own database and topic
prefix on the local stack (reusing the integration tests' support code): the benchmark
connects as yiwang-tools, the service as its own Kafka user, with ACLs for the run's prefix."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
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


def wake_reference(round_trips: int = 3000) -> dict[str, float]:
    """Microseconds of CPU, both sides together, that one blocking round trip between two
    processes costs (a byte each way over a socket pair, the median of five): as the
    scheduler places them (`scheduled_us`), and both on one CPU (`one_cpu_us`). At a
    trickle a case costs its round trips, and part of their price is the machine's: a few
    microseconds on bare metal, many times that in a virtual machine whose idle vCPUs halt
    and must be woken. The median, not the best: now and then the scheduler keeps both on
    one CPU, and the best would be that. Measure it on an idle machine, first."""
    one_cpu = min(os.sched_getaffinity(0))
    scheduled = statistics.median(_ping_pong(round_trips, cpu=None) for _ in range(5))
    pinned = statistics.median(_ping_pong(round_trips, cpu=one_cpu) for _ in range(5))
    return {"scheduled_us": 1e6 * scheduled / round_trips, "one_cpu_us": 1e6 * pinned / round_trips}


def wake_line(wake: dict[str, float]) -> str:
    return (
        f"wake reference: {wake['scheduled_us']:.0f} us of CPU a round trip between two"
        f" processes as scheduled, {wake['one_cpu_us']:.0f} us on one CPU (lower is cheaper)"
    )


def _ping_pong(round_trips: int, *, cpu: int | None) -> float:
    """CPU seconds, both processes together, of `round_trips` round trips; on `cpu` alone
    when it is set. Each side closes the other's end, so either one stopping ends the
    other's wait (end of file, or a broken pipe) instead of hanging it."""
    ours, theirs = socket.socketpair()
    allowed = os.sched_getaffinity(0)
    child = os.fork()
    if child == 0:  # echoes, then leaves without running anything of the parent's
        status = 1
        try:
            ours.close()
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            for _ in range(round_trips):
                if not theirs.recv(1):
                    break
                theirs.send(b"y")
            else:
                status = 0
        finally:
            os._exit(status)
    theirs.close()
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        started = time.process_time()
        for _ in range(round_trips):
            ours.send(b"x")
            if not ours.recv(1):
                raise RuntimeError("the echoing process stopped")
        spent = time.process_time() - started
    finally:
        os.sched_setaffinity(0, allowed)
        ours.close()  # an echo still waiting reads the end of file and leaves
        _, status, usage = os.wait4(child, 0)
    if status != 0:
        raise RuntimeError(f"the echoing process failed (status {status})")
    return spent + usage.ru_utime + usage.ru_stime


def cpu_seconds(pids: Iterable[int]) -> float:
    return sum(cpu_times(pids))


def cpu_times(pids: Iterable[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of the processes: system is the kernel's work for them,
    sending and receiving on sockets and being woken among it."""
    user = system = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
    return user / TICKS, system / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces): the
    state is [0], the parent [1], utime and stime [11] and [12], the start time [19]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def uptime_s(pid: int) -> float:
    """How long the process has run (its start time in /proc, against the system's)."""
    started = int(_stat(pid)[19])
    return float(Path("/proc/uptime").read_text().split()[0]) - started / TICKS


def infra_pids() -> dict[str, list[int]]:
    """Kafka's pid, and PostgreSQL's postmaster with every backend."""
    status = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), "status"], capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    found = dict(re.findall(r"^(kafka|postgres): running \(pid (\d+)\)", status, re.MULTILINE))
    postmaster = int(found["postgres"])
    backends = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _ppid(int(p.name)) == postmaster
    ]
    return {"kafka": [int(found["kafka"])], "postgres": [postmaster, *backends]}


def _ppid(pid: int) -> int | None:
    try:
        return int(_stat(pid)[1])
    except OSError:
        return None


class Statements:
    """The statements PostgreSQL ran in one database (pg_stat_statements, top level), less
    the benchmark's own: counts, which CPU noise does not move (how many records a poll
    gathers does, and `executemany` counts once a row). `available` is False when the
    server was started without the module (`infra/stack.py down --only postgres` and `up`
    load it)."""

    COUNT = (
        "SELECT coalesce(sum(calls), 0)::bigint AS statements,"
        " coalesce(sum(calls) FILTER (WHERE query ILIKE 'BEGIN%'), 0)::bigint AS transactions"
        " FROM pg_stat_statements WHERE toplevel AND dbid = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())"
    )

    BY_QUERY = (
        "SELECT query, sum(calls)::bigint AS calls,"
        " sum(total_plan_time + total_exec_time) AS ms FROM pg_stat_statements WHERE toplevel"
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " GROUP BY query"
    )
    # What the benchmark itself asks (pipeline.py's checks, and these counts).
    OWN = ("pg_stat_statements", "FROM oversight.cases", "FROM intake.cases WHERE external_id")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._own = 0  # statements the benchmark itself ran on the database
        self.available = False

    def ran(self, statements: int = 1) -> None:
        """Count the benchmark's own statements, to leave them out."""
        self._own += statements

    async def start(self) -> None:
        try:
            await self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await self.read()
        except Exception as exc:  # the module not loaded: CPU figures only
            print(f"statements not counted: {exc}", file=sys.stderr)
            return
        self.available = True

    async def by_query(self) -> dict[str, tuple[int, float]]:
        """Calls so far of each statement text (summed over the services' schemas), and the
        milliseconds the server spent planning and running them (wall time, not CPU), the
        benchmark's own left out."""
        rows = await self._conn.fetch(self.BY_QUERY)
        self._own += 1
        return {
            row["query"]: (int(row["calls"]), float(row["ms"]))
            for row in rows
            if not any(mark in row["query"] for mark in self.OWN)
        }

    async def read(self) -> tuple[int, int]:
        """(statements, transactions begun) so far, the benchmark's own left out."""
        row = await self._conn.fetchrow(self.COUNT)
        self._own += 1  # this read, counted once it has run
        return int(row["statements"]) - (self._own - 1), int(row["transactions"])


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
    "wake_line",
    "wake_reference",
]


def cpu_reference() -> float:
    """Milliseconds one core takes for a fixed pure-Python workload (best of three):
    figures from machines whose reference differs are compared in proportion to it."""
    import hashlib
    import json as json_module

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
