"""`make run`: Kafka, PostgreSQL, the five services and demo traffic; Ctrl-C stops it all.

Each service is its own process (as in production), logging JSON lines to
.local/logs/<service>.log. `--stop` stops services left behind by a run that was killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".local" / "logs"
PIDS = ROOT / ".local" / "run"
SERVICES = (
    ("intake", "yiwang.intake.app", 8001),
    ("grid-routing", "yiwang.grid_routing.app", 8002),
    ("department-dispatch", "yiwang.department_dispatch.app", 8003),
    ("mediation", "yiwang.mediation.app", 8004),
    ("oversight", "yiwang.oversight.app", 8005),
)


def fail(message: str) -> None:
    print(f"yiwang-run: {message}", file=sys.stderr)
    sys.exit(1)


def stack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), *args], text=True, capture_output=True
    )


def start_infra() -> dict[str, str]:
    print("starting Kafka and PostgreSQL (first run downloads the Kafka jars)...", flush=True)
    up = stack("up")
    if up.returncode != 0:
        fail(up.stderr.strip().removeprefix("yiwang-infra: ") or "infrastructure did not start")
    return dict(line.split("=", 1) for line in stack("env").stdout.splitlines() if "=" in line)


def start_service(name: str, module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (PIDS / f"{name}.pid").write_text(str(process.pid))
    return process


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_ready(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    waiting = {name: port for name, _, port in SERVICES}
    while waiting:
        for name, port in list(waiting.items()):
            if processes[name].poll() is not None:
                last = (LOGS / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:]
                fail(f"{name} exited during start-up: {last[0] if last else 'no output'}")
            if ready(port):
                del waiting[name]
                print(f"  {name:20} ready on http://127.0.0.1:{port}", flush=True)
        if time.monotonic() > deadline:
            fail(f"not ready after {timeout:.0f}s: {', '.join(waiting)}; see {LOGS}")
        time.sleep(0.3)


def stop_services(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    for pid_file in PIDS.glob("*.pid"):
        pid_file.unlink(missing_ok=True)


def stop_leftovers() -> None:
    for pid_file in PIDS.glob("*.pid") if PIDS.exists() else ():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink(missing_ok=True)


def print_where_to_look(env: dict[str, str]) -> None:
    print(
        f"""
Yiwang is running.
  APIs (OpenAPI docs)   http://127.0.0.1:8001/docs  ... :8005/docs
  Health and metrics    http://127.0.0.1:800N/healthz  /readyz  /metrics
  Logs                  {LOGS}/<service>.log
  Kafka                 KAFKA_BOOTSTRAP_SERVERS={env.get("KAFKA_BOOTSTRAP_SERVERS")}
  PostgreSQL            DATABASE_URL={env.get("DATABASE_URL")}
  Topics                python -m yiwang.common.topics list
Demo traffic: SubmitCase commands on intake.submissions.v1 from the synthetic county.
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run")
    parser.add_argument("--stop", action="store_true", help="stop services left by an earlier run")
    parser.add_argument("--no-demo", action="store_true", help="start without demo traffic")
    parser.add_argument("--rate", type=float, default=2.0, help="demo submissions per second")
    args = parser.parse_args()
    if args.stop:
        stop_leftovers()
        return
    stop_leftovers()
    env = {**os.environ, **start_infra()}
    from yiwang.common.topics import main as topics_main

    os.environ.update(env)
    if topics_main(["create"]) != 0:
        fail("could not create the Kafka topics")
    processes = {name: start_service(name, module, env) for name, module, _ in SERVICES}
    # Ctrl-C and SIGTERM both stop everything. SIGINT is set explicitly because a shell
    # that starts us in the background leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        wait_ready(processes)
        print_where_to_look(env)
        if args.no_demo:
            signal.pause()
        else:
            from demo_traffic import run_demo

            asyncio.run(run_demo(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], rate=args.rate))
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stop_services(processes)
        down = stack("down")
        print(down.stdout.strip() or "stopped", flush=True)


if __name__ == "__main__":
    main()
