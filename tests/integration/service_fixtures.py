"""Services under test: each app a process of its own, on a fresh database and the test
module's topic prefix, as `make run` starts them; the operator commands that issue their
clients' keys; and helper processes (simulators, example consumers) beside them."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ServiceProcess, bearer, create_database, drop_database
from waiting import wait_until

ALL_SERVICES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}


@contextmanager
def running_services(
    infra: Mapping[str, str],
    modules: Mapping[str, str],
    *,
    prefix: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    within: float = 90.0,
) -> Iterator[dict[str, ServiceProcess]]:
    """Start the apps in `modules` (name -> module) together, ready on /readyz; afterwards
    stop them and drop their database."""
    base = infra["DATABASE_URL"]
    database = asyncio.run(create_database(base))
    shared = {**infra, "DATABASE_URL": database, "YIWANG_TOPIC_PREFIX": prefix, **(env or {})}
    services = {
        name: ServiceProcess(module, env=shared, log_path=log_dir / f"{name}.log")
        for name, module in modules.items()
    }
    if {"oversight", "intake", "department-dispatch"} <= services.keys():
        # 对账: oversight asks intake and department-dispatch where they listen.
        services["oversight"].env |= {
            "OVERSIGHT_INTAKE_URL": services["intake"].url,
            "OVERSIGHT_DISPATCH_URL": services["department-dispatch"].url,
        }
    try:
        # Migrations of different schemas in one database do not conflict: start together.
        with ThreadPoolExecutor(len(services)) as pool:
            for started in [pool.submit(s.start, within=within) for s in services.values()]:
                started.result()
        yield services
    finally:
        for service in services.values():
            service.stop()
        asyncio.run(drop_database(base, database))


def services_under_test(
    modules: Mapping[str, str], *, prefix: str, env: Mapping[str, str] | None = None
) -> Any:
    """A module-scoped fixture: the apps in `modules` running for the test module's tests,
    as a dict name -> ServiceProcess."""

    @pytest.fixture(scope="module")
    def services(
        infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[dict[str, ServiceProcess]]:
        log_dir = tmp_path_factory.mktemp("services")
        with running_services(infra, modules, prefix=prefix, env=env, log_dir=log_dir) as running:
            yield running

    return services


def service_under_test(module: str, *, prefix: str, env: Mapping[str, str] | None = None) -> Any:
    """A module-scoped fixture: one app running for the test module's tests."""

    @pytest.fixture(scope="module")
    def service(
        infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ServiceProcess]:
        name = module.split(".")[1]  # yiwang.<name>.app
        log_dir = tmp_path_factory.mktemp(name)
        with running_services(
            infra, {name: module}, prefix=prefix, env=env, log_dir=log_dir
        ) as running:
            yield running[name]

    return service


def wait_for_grid_set(routing: ServiceProcess, *, within: float = 60.0) -> None:
    """grid-routing is ready before its bootstrap grid set is imported: wait for the set."""

    def grid_sets() -> Any:
        try:
            response = httpx.get(f"{routing.url}/grid-sets", headers=bearer("auditor"), timeout=5)
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    if not wait_until(grid_sets, within=within):
        log = routing.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"grid-routing loaded no grid set in {within}s: {log}")


def issue_intake_key(intake: ServiceProcess, *, platform: str, scopes: str = "submit,read") -> str:
    return _output(intake.cli("issue-key", "--platform", platform, "--scopes", scopes))


def issue_dispatch_key(dispatch: ServiceProcess, principal: str) -> str:
    return _output(dispatch.cli("issue-key", principal))


def _output(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args[2:])} failed: {done.stderr}")
    return done.stdout.strip()


@asynccontextmanager
async def helper_process(
    *command: str, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A helper (a simulator, an example consumer) running for the length of the block."""
    process = await asyncio.create_subprocess_exec(
        *command,
        env=None if env is None else {**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=20)
