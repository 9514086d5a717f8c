"""The five services as one county: separate processes started as `make run` starts them,
one fresh database, one topic prefix, and the credentials an operator would hand out."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import ServiceProcess, create_database, drop_database

SERVICES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}
# The tiny synthetic county (GRID_ROUTING_BOOTSTRAP_PRESET=tiny): two townships, 48 micro-grids.
TINY_COUNTY = "140399"


@dataclass
class County:
    """A running system: where each service listens and the keys its clients hold."""

    prefix: str
    env: dict[str, str]
    services: dict[str, ServiceProcess]
    intake_key: str = ""
    dispatch_keys: dict[str, str] = field(default_factory=dict)
    signing_secrets: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.services[service].url

    def client(self, service: str, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=15)

    def intake(self) -> httpx.AsyncClient:
        return self.client("intake", **{"X-API-Key": self.intake_key})

    def cli(self, module: str, *args: str) -> str:
        """An operator command against this county's database, as docs describe it."""
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def log_tail(self, service: str, chars: int = 3000) -> str:
        return self.services[service].log_path.read_text(errors="replace")[-chars:]


def start_county(
    infra: dict[str, str],
    log_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    departments: tuple[str, ...] = (),
    townships: tuple[str, ...] = (),
) -> County:
    """Start all five services in parallel on a fresh database and prefix; issue keys."""
    prefix = f"j{uuid.uuid4().hex[:8]}."
    database = asyncio.run(create_database(infra["DATABASE_URL"]))
    env = {
        **infra,
        "DATABASE_URL": database,
        "YIWANG_TOPIC_PREFIX": prefix,
        "YIWANG_DISPATCH_SIGNING_KEY": f"journey-{uuid.uuid4().hex}",
        "YIWANG_DISPATCH_WHISTLE_SWEEP_SECONDS": "0.3",
        "GRID_ROUTING_BOOTSTRAP_PRESET": "tiny",
        "GRID_ROUTING_CHECK_SECONDS": "1",
        "OVERSIGHT_TIMER_POLL_SECONDS": "0.3",
        "OVERSIGHT_METRICS_REFRESH_SECONDS": "1",
        "MEDIATION_TIMER_POLL_SECONDS": "0.3",
        "MEDIATION_COUNTY_CODE": TINY_COUNTY,
        "MEDIATION_SEED_TOWNSHIPS": "2",
        "YIWANG_DB_POOL_MAX": "4",
        **(extra_env or {}),
    }
    services = {
        name: ServiceProcess(module, env=env, log_path=log_dir / f"{name}.log")
        for name, module in SERVICES.items()
    }
    county = County(prefix=prefix, env=env, services=services)
    try:
        # Migrations of different schemas in one database do not conflict: start together.
        with ThreadPoolExecutor(len(services)) as pool:
            for started in [pool.submit(s.start, within=120) for s in services.values()]:
                started.result()
        _wait_for_grid(county)
        principals = [*departments, *(f"township:{t}" for t in townships)]
        with ThreadPoolExecutor(4) as pool:
            intake_key = pool.submit(
                county.cli, "yiwang.intake.cli", "issue-key", "--platform", "journeys"
            )
            keys = {
                p: pool.submit(county.cli, "yiwang.department_dispatch.cli", "issue-key", p)
                for p in principals
            }
            secrets = {
                d: pool.submit(county.cli, "yiwang.department_dispatch.cli", "signing-secret", d)
                for d in departments
            }
            county.intake_key = intake_key.result()
            county.dispatch_keys = {p: f.result() for p, f in keys.items()}
            county.signing_secrets = {d: f.result() for d, f in secrets.items()}
    except BaseException:
        stop_county(county, infra)
        raise
    return county


def _wait_for_grid(county: County, within: float = 60) -> None:
    """grid-routing is ready before its bootstrap grid set is imported; wait for the set."""
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{county.url('grid-routing')}/grid-sets", timeout=2).json():
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"grid-routing loaded no grid set: {county.log_tail('grid-routing')}")


def stop_county(county: County, infra: dict[str, str]) -> None:
    with ThreadPoolExecutor(len(county.services)) as pool:
        list(pool.map(lambda s: s.stop(), county.services.values()))
    asyncio.run(drop_database(infra["DATABASE_URL"], county.env["DATABASE_URL"]))
