"""`make run`: Kafka, PostgreSQL, the five services and demo traffic; Ctrl-C stops it all.

Each service is its own process (as in production), logging JSON lines to
.local/logs/<service>.log; so are the department and mediator simulators. Demo time runs
--speed times faster (one shared epoch, so every process agrees on the time), so deadlines
fire within minutes. A live Prometheus (infra/prometheus_local.py) scrapes the services and
evaluates the project's alert rules. Every process is supervised (infra/supervision.py): one
that exits is started again with back-off, and the live view shows it. If a port it needs
is held by another program, it says which and stops. `--stop` (`make stop`) stops whatever
an earlier run left behind.

Knobs: YIWANG_RUN_PORT_BASE (8000: the services listen on base+1 ... base+5),
PROMETHEUS_PORT (9090), YIWANG_RUN_DIR (.local/run: pid files, Prometheus data),
YIWANG_LOG_DIR (.local/logs).

Kafka is the local broker's SASL_SSL listener: each service connects as its own user
(`yiwang-intake`, ...; `infra/stack.py credentials`), the topic creation, the demo and the
simulators as `yiwang-tools` (`infra/stack.py env`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import prometheus_local
from devstack.processes import port_is_free, port_owner
from supervision import Supervisor, stop_leftovers

ROOT = Path(__file__).resolve().parent.parent
LOGS = Path(os.environ.get("YIWANG_LOG_DIR", ROOT / ".local" / "logs"))
PIDS = Path(os.environ.get("YIWANG_RUN_DIR", ROOT / ".local" / "run"))
BASE = int(os.environ.get("YIWANG_RUN_PORT_BASE", "8000"))
REPORTS = ROOT / ".local" / "reports"  # the weekly reports the demo's auditor fetches
SERVICES = (
    ("intake", "yiwang.intake.app", BASE + 1),
    ("grid-routing", "yiwang.grid_routing.app", BASE + 2),
    ("department-dispatch", "yiwang.department_dispatch.app", BASE + 3),
    ("mediation", "yiwang.mediation.app", BASE + 4),
    ("oversight", "yiwang.oversight.app", BASE + 5),
)
URLS = {name: f"http://127.0.0.1:{port}" for name, _, port in SERVICES}
# Oversight's reconciliation (对账) asks intake and department-dispatch.
PEERS = {
    "OVERSIGHT_INTAKE_URL": URLS["intake"],
    "OVERSIGHT_DISPATCH_URL": URLS["department-dispatch"],
}


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
    name: str, module: str, port: int, passwords: dict[str, str]
) -> Callable[[dict[str, str]], subprocess.Popen[bytes]]:
    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = (LOGS / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**env, **kafka_user_env(name, passwords), **PEERS, "YIWANG_HTTP_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    return start


def check_ports_free() -> None:
    """Every port this run needs is free, or it says who holds it and stops: a server someone
    else runs must never pass for one of ours."""
    needed = [(name, port) for name, _, port in SERVICES]
    needed.append(("prometheus", prometheus_local.port()))
    for name, port in needed:
        if not port_is_free(port):
            owner = port_owner(port)
            fail(
                f"port {port}, needed for {name}, is held by another program"
                f"{f' ({owner})' if owner else ''}: stop it ('make stop' stops what an earlier "
                "run left), or move this run with YIWANG_RUN_PORT_BASE / PROMETHEUS_PORT"
            )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_ready(supervisor: Supervisor, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    waiting = {name: port for name, _, port in SERVICES}
    while waiting:
        for name, port in list(waiting.items()):
            process = supervisor.processes()[name]
            if process.poll() is not None:
                last = (LOGS / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:]
                fail(f"{name} exited during start-up: {last[0] if last else 'no output'}")
            if ready(port):
                del waiting[name]
                print(f"  {name:20} ready on http://127.0.0.1:{port}", flush=True)
        if time.monotonic() > deadline:
            fail(f"not ready after {timeout:.0f}s: {', '.join(waiting)}; see {LOGS}")
        time.sleep(0.3)


def print_where_to_look(env: dict[str, str], speed: float) -> None:
    print(
        f"""
Yiwang is running. Demo time runs {speed:g}x faster than real time.
  APIs (OpenAPI docs)   {URLS["intake"]}/docs  ... {URLS["oversight"]}/docs   (Open311: {URLS["intake"]}/open311/v2/services.json)
  Health and metrics    http://127.0.0.1:{BASE // 10}N/healthz  /readyz  /metrics  /asyncapi.json
  Prometheus            http://127.0.0.1:{prometheus_local.port()}  (alerts: /alerts; rules from deploy/prometheus/rules)
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


def simulators(speed: float) -> dict[str, Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    """The departments and mediators the demo county has (each its own process)."""
    modules = {"department-simulator": "yiwang.department_dispatch.simulator"}
    if importlib.util.find_spec("yiwang.mediation.simulator") is not None:
        modules["mediator-simulator"] = "yiwang.mediation.simulator"

    def starter(name: str, module: str) -> Callable[[dict[str, str]], subprocess.Popen[bytes]]:
        def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
            log = (LOGS / f"{name}.log").open("ab")
            return subprocess.Popen(
                [sys.executable, "-m", module, "--speed", str(speed)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

        return start

    return {name: starter(name, module) for name, module in modules.items()}


async def supervise(supervisor: Supervisor, every: float = 1.0) -> None:
    while True:
        supervisor.check()
        await asyncio.sleep(every)


async def demo(
    env: dict[str, str],
    *,
    api_key: str,
    platform_credential: str,
    rate: float,
    speed: float,
    show_view: bool,
    supervisor: Supervisor,
) -> None:
    from demo_traffic import (
        assess_departments,
        blow_whistles,
        evaluate_resolved,
        fetch_weekly_reports,
        rule_at_the_hub,
        run_demo,
    )
    from yiwang.common.clock import clock_for_speed
    from yiwang.common.settings import CommonSettings

    settings = CommonSettings()
    clock = clock_for_speed(speed, epoch=settings.clock_epoch)
    jobs = [supervise(supervisor)]
    jobs.append(run_demo(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], intake_url=URLS["intake"],
                     api_key=api_key, platform_credential=platform_credential, rate=rate, clock=clock,
                     prefix=settings.topic_prefix, quiet=show_view))  # fmt: skip
    jobs.append(blow_whistles(oversight_url=URLS["oversight"], dispatch_url=URLS["department-dispatch"],
                              every_seconds=max(5.0, 600 / speed)))  # fmt: skip
    jobs.append(evaluate_resolved(oversight_url=URLS["oversight"], intake_url=URLS["intake"],
                                  api_key=api_key, every_seconds=max(2.0, 120 / speed)))  # fmt: skip
    jobs.append(rule_at_the_hub(oversight_url=URLS["oversight"], dispatch_url=URLS["department-dispatch"],
                                every_seconds=max(3.0, 300 / speed)))  # fmt: skip
    jobs.append(assess_departments(oversight_url=URLS["oversight"], clock=clock,
                                   every_seconds=max(10.0, 1800 / speed)))  # fmt: skip
    jobs.append(fetch_weekly_reports(oversight_url=URLS["oversight"], clock=clock,
                                     every_seconds=max(15.0, 3600 / speed), out_dir=REPORTS))  # fmt: skip
    from demo_grid import work_the_grid

    jobs.append(work_the_grid(intake_url=URLS["intake"], routing_url=URLS["grid-routing"],
                              api_key=api_key, every_seconds=max(3.0, 600 / speed)))  # fmt: skip
    view = importlib.util.find_spec("demo_view") if show_view else None
    if view is not None:
        from demo_view import run_view  # type: ignore[import-not-found]

        jobs.append(run_view(base_urls=URLS, processes=supervisor.states))
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
        stopped = stop_leftovers(PIDS)
        print(f"stopped {len(stopped)} process(es) an earlier run left behind", flush=True)
        return
    stop_leftovers(PIDS)
    check_ports_free()
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
    supervisor = Supervisor(run_dir=PIDS, env=env, log=lambda line: print(line, flush=True))
    # Ctrl-C, SIGTERM and a closed terminal all stop everything. SIGINT is set explicitly because a shell
    # that starts us in the background leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)  # the terminal was closed
    try:
        for name, module, port in SERVICES:
            supervisor.add(name, start_service(name, module, port, passwords))
        targets = {name: port for name, _, port in SERVICES}
        supervisor.add("prometheus", lambda e: prometheus_local.start(PIDS, targets, e))
        wait_ready(supervisor)
        print_where_to_look(env, args.speed)
        if args.no_demo:
            asyncio.run(supervise(supervisor))
        else:
            for name, start in simulators(args.speed).items():
                supervisor.add(name, start)
            key = issue_demo_key(env)
            credential = issue_platform_secret(env, PLATFORM)
            show_view = sys.stdout.isatty() and not args.no_view
            asyncio.run(
                demo(env, api_key=key, platform_credential=credential, rate=args.rate,
                     speed=args.speed, show_view=show_view, supervisor=supervisor)
            )  # fmt: skip
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        supervisor.stop()
        if not infra_was_running:
            stack("down")
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
