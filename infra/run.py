"""`make run`: Kafka, PostgreSQL, the five services and demo traffic; Ctrl-C stops it all.

Each service is its own process (as in production), logging JSON lines to
.local/logs/<service>.log; so are the department and mediator simulators. Demo time runs
--speed times faster (one shared epoch, so every process agrees on the time), so deadlines
fire within minutes. `--stop` stops processes left behind by a run that was killed.

Kafka is the local broker's SASL_SSL listener: each service connects as its own user
(`yiwang-intake`, ...; `infra/stack.py credentials`), the topic creation, the demo and the
simulators as `yiwang-tools` (`infra/stack.py env`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

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


def fail(message: str) -> NoReturn:
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


def service_passwords() -> dict[str, str]:
    """KAFKA_SASL_PASSWORD_<SERVICE> of the local broker's service users (none when
    KAFKA_BOOTSTRAP_SERVERS names another broker: its settings are then the environment's)."""
    done = stack("credentials")
    if done.returncode != 0:
        return {}
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def kafka_user_env(name: str, passwords: dict[str, str]) -> dict[str, str]:
    password = passwords.get("KAFKA_SASL_PASSWORD_" + name.upper().replace("-", "_"))
    if password is None:
        return {}
    return {"KAFKA_SASL_USERNAME": f"yiwang-{name}", "KAFKA_SASL_PASSWORD": password}


def grant_prefix(prefix: str, passwords: dict[str, str]) -> None:
    """The service users' ACLs for a topic prefix (the unprefixed ones come with `up`)."""
    if prefix and passwords:
        done = stack("acls", "grant", "--prefix", prefix)
        if done.returncode != 0:
            fail(done.stderr.strip().removeprefix("yiwang-infra: ") or "could not grant ACLs")


def start_service(
    name: str, module: str, env: dict[str, str], passwords: dict[str, str]
) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env={**env, **kafka_user_env(name, passwords)},
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


def print_where_to_look(env: dict[str, str], speed: float) -> None:
    print(
        f"""
Yiwang is running. Demo time runs {speed:g}x faster than real time.
  APIs (OpenAPI docs)   http://127.0.0.1:8001/docs  ... :8005/docs   (Open311: :8001/open311/v2/services.json)
  Health and metrics    http://127.0.0.1:800N/healthz  /readyz  /metrics
  Logs                  {LOGS}/<service>.log
  Kafka                 KAFKA_BOOTSTRAP_SERVERS={env.get("KAFKA_BOOTSTRAP_SERVERS")} ({env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")}; settings: infra/stack.py env)
  PostgreSQL            DATABASE_URL={env.get("DATABASE_URL")}
  Dashboards            deploy/grafana (make up, with Docker)
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


PLATFORM = "yq-city-platform"  # the county platform that submits over Kafka in the demo


def issue_demo_key(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "yiwang.intake.cli", "issue-key", "--platform", "demo-county", "--scopes", "submit,read"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        fail(f"could not issue the demo API key: {result.stderr.strip()}")
    return result.stdout.strip()


def issue_platform_secret(env: dict[str, str], system: str) -> str:
    """The county platform's Kafka signing credential (a new one each run: the previous
    run's is retired with no overlap)."""
    for command in (
        ["issue-signing-secret", system],
        ["rotate-signing-secret", system, "--overlap-hours", "0"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "yiwang.intake.cli", *command], env=env, capture_output=True, text=True
        )  # fmt: skip
        if result.returncode == 0:
            return result.stdout.strip()
    return fail(f"could not issue {system}'s signing secret: {result.stderr.strip()}")


def start_simulators(env: dict[str, str], speed: float) -> dict[str, subprocess.Popen[bytes]]:
    """The departments and mediators the demo county has (each its own process)."""
    simulators = {
        "department-simulator": [
            "-m",
            "yiwang.department_dispatch.simulator",
            "--speed",
            str(speed),
        ]
    }
    if importlib.util.find_spec("yiwang.mediation.simulator") is not None:
        simulators["mediator-simulator"] = [
            "-m",
            "yiwang.mediation.simulator",
            "--speed",
            str(speed),
        ]
    started = {}
    for name, args in simulators.items():
        log = (LOGS / f"{name}.log").open("ab")
        started[name] = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (PIDS / f"{name}.pid").write_text(str(started[name].pid))
    return started


async def demo(
    env: dict[str, str],
    *,
    api_key: str,
    platform_credential: str,
    rate: float,
    speed: float,
    show_view: bool,
) -> None:
    from demo_traffic import blow_whistles, evaluate_resolved, rule_at_the_hub, run_demo
    from yiwang.common.clock import clock_for_speed
    from yiwang.common.settings import CommonSettings

    settings = CommonSettings()
    clock = clock_for_speed(speed, epoch=settings.clock_epoch)
    jobs = [run_demo(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], intake_url="http://127.0.0.1:8001",
                     api_key=api_key, platform_credential=platform_credential, rate=rate, clock=clock,
                     prefix=settings.topic_prefix, quiet=show_view)]  # fmt: skip
    jobs.append(blow_whistles(oversight_url="http://127.0.0.1:8005", dispatch_url="http://127.0.0.1:8003",
                              every_seconds=max(5.0, 600 / speed)))  # fmt: skip
    jobs.append(evaluate_resolved(oversight_url="http://127.0.0.1:8005", intake_url="http://127.0.0.1:8001",
                                  api_key=api_key, every_seconds=max(2.0, 120 / speed)))  # fmt: skip
    jobs.append(rule_at_the_hub(oversight_url="http://127.0.0.1:8005", dispatch_url="http://127.0.0.1:8003",
                                every_seconds=max(3.0, 300 / speed)))  # fmt: skip
    from demo_grid import work_the_grid

    jobs.append(work_the_grid(intake_url="http://127.0.0.1:8001", routing_url="http://127.0.0.1:8002",
                              api_key=api_key, every_seconds=max(3.0, 600 / speed)))  # fmt: skip
    view = importlib.util.find_spec("demo_view") if show_view else None
    if view is not None:
        from demo_view import run_view  # type: ignore[import-not-found]

        jobs.append(
            run_view(base_urls={name: f"http://127.0.0.1:{port}" for name, _, port in SERVICES})
        )
    await asyncio.gather(*jobs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run")
    parser.add_argument("--stop", action="store_true", help="stop services left by an earlier run")
    parser.add_argument("--no-demo", action="store_true", help="start without demo traffic")
    parser.add_argument("--no-view", action="store_true", help="no live terminal view")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="demo submissions per second at the busiest hour"
    )
    parser.add_argument(
        "--speed", type=float, default=60.0, help="demo time runs this many times faster"
    )
    args = parser.parse_args()
    if args.stop:
        stop_leftovers()
        return
    stop_leftovers()
    # Stop at the end only what this run started: a stack someone else runs stays up.
    infra_was_running = stack("status").returncode == 0
    env = {**os.environ, **start_infra()}
    env.setdefault("YIWANG_CLOCK_SPEED", str(args.speed))
    # A developer machine: the services start with the development keys they ship with.
    env.setdefault("YIWANG_ENV", "development")
    env.setdefault("YIWANG_CLOCK_EPOCH", datetime.now(UTC).isoformat())
    from yiwang.common.topic_admin import main as topics_main

    os.environ.update(env)
    passwords = service_passwords()
    grant_prefix(env.get("YIWANG_TOPIC_PREFIX", ""), passwords)
    if topics_main(["create"]) != 0:
        fail("could not create the Kafka topics")
    processes = {name: start_service(name, module, env, passwords) for name, module, _ in SERVICES}
    # Ctrl-C, SIGTERM and a closed terminal all stop everything. SIGINT is set explicitly because a shell
    # that starts us in the background leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)  # the terminal was closed
    try:
        wait_ready(processes)
        print_where_to_look(env, args.speed)
        if args.no_demo:
            signal.pause()
        else:
            processes.update(start_simulators(env, args.speed))
            key = issue_demo_key(env)
            credential = issue_platform_secret(env, PLATFORM)
            show_view = sys.stdout.isatty() and not args.no_view
            asyncio.run(
                demo(env, api_key=key, platform_credential=credential, rate=args.rate,
                     speed=args.speed, show_view=show_view)
            )  # fmt: skip
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stop_services(processes)
        if not infra_was_running:
            stack("down")
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
