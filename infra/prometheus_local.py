"""A live Prometheus for `make run`: Debian's `prometheus` binary (tests/deploy/install_tools.sh
installs it), scraping the five services every 5 s and evaluating the project's own alert
rules (deploy/prometheus/rules/). Its data lives under <run dir>/prometheus/.

The address is 127.0.0.1:$PROMETHEUS_PORT (9090); alerts at /alerts, the API at /api/v1/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "rules"
DEFAULT_PORT = 9090


def port() -> int:
    return int(os.environ.get("PROMETHEUS_PORT", DEFAULT_PORT))


def config(targets: Mapping[str, int], *, rules: Path = RULES, interval: str = "5s") -> str:
    """prometheus.yml: the services at 127.0.0.1:<port>, labelled as in deploy/prometheus."""
    scrape = {
        "job_name": "yiwang",
        "honor_labels": True,
        "metrics_path": "/metrics",
        "static_configs": [
            {"targets": [f"127.0.0.1:{p}"], "labels": {"service": name}}
            for name, p in targets.items()
        ],
    }
    document = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules / "*.yml")],
        "scrape_configs": [scrape],
    }
    return json.dumps(document, indent=2)  # YAML is a superset of JSON


def start(
    run_dir: Path,
    targets: Mapping[str, int],
    env: Mapping[str, str],
    *,
    rules: Path = RULES,
    interval: str = "5s",
) -> subprocess.Popen[bytes]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise FileNotFoundError(
            "prometheus is not installed: bash tests/deploy/install_tools.sh prometheus"
        )
    home = run_dir / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "prometheus.yml").write_text(
        config(targets, rules=rules, interval=interval), encoding="utf-8"
    )
    log = (run_dir / "prometheus.log").open("ab")
    return subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address=127.0.0.1:{env.get('PROMETHEUS_PORT', port())}",
        ],
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def query(path: str, *, at: int | None = None, timeout: float = 5) -> Any:
    """GET the Prometheus HTTP API (e.g. "/api/v1/alerts"); its `data`."""
    url = f"http://127.0.0.1:{at or port()}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]


def wait_ready(*, at: int | None = None, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{at or port()}/-/ready", timeout=2
            ) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False
