"""The five services as one county: separate processes started as `make run` starts them,
one fresh database, one topic prefix, and the credentials an operator would hand out."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_fixtures import ALL_SERVICES, running_services, wait_for_grid_set
from support import ServiceProcess, bearer, new_topic_prefix

from journeys.observer import Wire

# The tiny synthetic county (GRID_ROUTING_BOOTSTRAP_PRESET=tiny): two townships, 48 micro-grids.
TINY_COUNTY = "140399"
# Fast timers and the tiny grid, so that each journey takes seconds.
COUNTY_ENV = {
    "YIWANG_DISPATCH_WHISTLE_SWEEP_SECONDS": "0.3",
    "GRID_ROUTING_BOOTSTRAP_PRESET": "tiny",
    "GRID_ROUTING_CHECK_SECONDS": "1",
    "OVERSIGHT_TIMER_POLL_SECONDS": "0.3",
    "OVERSIGHT_METRICS_REFRESH_SECONDS": "1",
    "MEDIATION_TIMER_POLL_SECONDS": "0.3",
    "MEDIATION_COUNTY_CODE": TINY_COUNTY,
    "MEDIATION_SEED_TOWNSHIPS": "2",
    "YIWANG_DB_POOL_MAX": "4",
}


DEFAULT_PEOPLE = {"oversight": "auditor", "grid-routing": "auditor", "mediation": "hub_operator"}


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

    def client(
        self, service: str, *, person: str | None = None, **headers: str
    ) -> httpx.AsyncClient:
        """A client of one service. Without other credentials it signs in as the person
        who usually reads or acts there (an auditor reads oversight and the network, the
        hub operator acts on mediations); `person` names another."""
        if person is None and not headers:
            person = DEFAULT_PEOPLE.get(service)
        if person is not None:
            headers = {**bearer(person), **headers}
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


@contextmanager
def running_county(
    infra: Mapping[str, str],
    log_dir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    departments: tuple[str, ...] = (),
    townships: tuple[str, ...] = (),
) -> Iterator[County]:
    """All five services in parallel on a fresh database and prefix, with keys issued."""
    # A "t" prefix like every test module's, so the session's clean-up deletes its topics.
    prefix = new_topic_prefix()
    env = {
        **COUNTY_ENV,
        "YIWANG_DISPATCH_SIGNING_KEY": f"journey-{uuid.uuid4().hex}",
        **(extra_env or {}),
    }
    with running_services(
        infra, ALL_SERVICES, prefix=prefix, log_dir=log_dir, env=env, within=120
    ) as services:
        county = County(prefix=prefix, env=services["intake"].env, services=services)
        wait_for_grid_set(services["grid-routing"])
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
        yield county


def county_fixtures(
    name: str,
    *,
    extra_env: Callable[[], Mapping[str, str]] | None = None,
    departments: tuple[str, ...] = (),
    townships: tuple[str, ...] = (),
) -> tuple[Any, Any]:
    """Module-scoped `county` and `wire` fixtures for a journey module. `extra_env` is
    called when the county starts (a demo clock's epoch must be taken then)."""

    @pytest.fixture(scope="module")
    def county(infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
        env = extra_env() if extra_env is not None else None
        with running_county(
            infra,
            tmp_path_factory.mktemp(name),
            extra_env=env,
            departments=departments,
            townships=townships,
        ) as started:
            yield started

    @pytest.fixture(scope="module")
    async def wire(county: County, kafka: str) -> AsyncIterator[Wire]:
        observer = Wire(kafka, county.prefix)
        await observer.start()
        yield observer
        await observer.stop()

    return county, wire
