"""`make run` (infra/run.py) as a user meets it: it refuses a port someone else holds, starts
the five services and a live Prometheus that scrapes them and loads the project's alert
rules, restarts a service that dies, and `make stop` (`run.py --stop`) stops whatever a
killed run left behind. On its own ports, database, topic prefix and run directory."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import KAFKA_USERS, create_database, drop_database, free_port, new_topic_prefix
from waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "infra" / "run.py"
SERVICES = ("intake", "grid-routing", "department-dispatch", "mediation", "oversight")


def free_port_base() -> int:
    """A base whose next five ports are free (the services listen on base+1 ... base+5)."""
    while True:
        base = random.randrange(20_000, 30_000, 10)
        try:
            for port in range(base + 1, base + 6):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base


@pytest.fixture(scope="module")
def run_env(
    infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    database = asyncio.run(create_database(infra["DATABASE_URL"]))
    run_dir = tmp_path_factory.mktemp("make-run")
    prefix = new_topic_prefix()
    KAFKA_USERS.grant(prefix)  # so that the session's end revokes it and deletes its topics
    env = {
        **os.environ,
        **infra,
        "DATABASE_URL": database,
        "YIWANG_TOPIC_PREFIX": prefix,
        "YIWANG_RUN_PORT_BASE": str(free_port_base()),
        "PROMETHEUS_PORT": str(free_port()),
        "YIWANG_RUN_DIR": str(run_dir),
        "YIWANG_LOG_DIR": str(run_dir / "logs"),
    }
    yield env
    subprocess.run([sys.executable, str(RUN), "--stop"], env=env, timeout=60, check=False)
    asyncio.run(drop_database(infra["DATABASE_URL"], database))


def port_of(env: dict[str, str], service: str) -> int:
    return int(env["YIWANG_RUN_PORT_BASE"]) + 1 + SERVICES.index(service)


def pid_of(env: dict[str, str], name: str) -> int | None:
    try:
        return int((Path(env["YIWANG_RUN_DIR"]) / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def prometheus(env: dict[str, str], path: str) -> Any:
    body = httpx.get(f"http://127.0.0.1:{env['PROMETHEUS_PORT']}{path}", timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]


def test_a_port_held_by_another_program_is_named_and_nothing_starts(
    run_env: dict[str, str],
) -> None:
    port = port_of(run_env, "department-dispatch")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = subprocess.run(
            [sys.executable, str(RUN), "--no-demo"], env=run_env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port}, needed for department-dispatch, is held by another program" in (
        done.stderr
    )
    assert f"pid {os.getpid()}" in done.stderr  # who holds it
    assert list(Path(run_env["YIWANG_RUN_DIR"]).glob("*.pid")) == []


def test_services_and_prometheus_run_supervised_and_stop_leaves_nothing(
    run_env: dict[str, str],
) -> None:
    output = Path(run_env["YIWANG_RUN_DIR"]) / "run.out"
    with output.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, str(RUN), "--no-demo", "--no-view"],
            env=run_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        assert wait_until(lambda: "Yiwang is running" in output.read_text(), within=240), (
            output.read_text()[-3000:]
        )
        text = output.read_text()
        assert f"Prometheus            http://127.0.0.1:{run_env['PROMETHEUS_PORT']}" in text

        # Prometheus scrapes all five and evaluates the project's rules.
        def targets_up() -> bool:
            active = prometheus(run_env, "/api/v1/targets")["activeTargets"]
            return sorted(t["labels"]["service"] for t in active if t["health"] == "up") == sorted(
                SERVICES
            )

        assert wait_until(targets_up, within=60)
        rules = prometheus(run_env, "/api/v1/rules")["groups"]
        names = {rule["name"] for group in rules for rule in group["rules"]}
        assert {"YiwangOutboxBacklog", "YiwangConsumerLagHigh", "YiwangServiceDown"} <= names

        # A service that dies is started again.
        before = pid_of(run_env, "grid-routing")
        assert before is not None
        os.kill(before, signal.SIGKILL)
        port = port_of(run_env, "grid-routing")

        def ready_again() -> bool:
            after = pid_of(run_env, "grid-routing")
            if after in (None, before):
                return False
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready_again, within=120), output.read_text()[-3000:]
        assert "grid-routing exited (-9); starting it again" in output.read_text()

        # The run itself is killed: its children stay behind, and --stop finds them.
        children = {name: pid_of(run_env, name) for name in (*SERVICES, "prometheus")}
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        time.sleep(1)
        assert all(pid is not None and alive(pid) for pid in children.values()), children
        (Path(run_env["YIWANG_RUN_DIR"]) / "intake.pid").unlink()  # even without its pid file
        stopped = subprocess.run(
            [sys.executable, str(RUN), "--stop"], env=run_env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert stopped.returncode == 0, stopped.stderr
        assert wait_until(
            lambda: not any(alive(pid) for pid in children.values() if pid), within=20
        ), {n: p for n, p in children.items() if p and alive(p)}
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
