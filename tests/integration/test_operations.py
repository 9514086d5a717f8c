"""The operators' view against the five running services: every metric the dashboards and
alert rules read is exported on /metrics, consumer lag is reported per group and topic,
and a case's transitions are counted by state and channel."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_fixtures import ALL_SERVICES, issue_intake_key, services_under_test
from support import ServiceProcess, new_topic_prefix
from waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PREFIX = new_topic_prefix()


def _promql() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("promql", ROOT / "deploy/grafana/promql.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


running = services_under_test(
    ALL_SERVICES,
    prefix=PREFIX,
    env={
        "YIWANG_LAG_POLL_SECONDS": "1",
        "GRID_ROUTING_BOOTSTRAP_PRESET": "tiny",
        "OVERSIGHT_METRICS_REFRESH_SECONDS": "1",
        "YIWANG_DISPATCH_SIGNING_KEY": uuid.uuid4().hex,
    },
)


@pytest.fixture(scope="module")
def services(running: dict[str, ServiceProcess]) -> dict[str, Any]:
    key = issue_intake_key(running["intake"], platform="ops")
    return {"urls": {n: s.url for n, s in running.items()}, "key": key}


def scrape(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=5).text


def exported_names(text: str) -> set[str]:
    """Families named in HELP/TYPE lines (present before any traffic) and sample names."""
    names = set(re.findall(r"^# (?:HELP|TYPE) (\S+)", text, re.MULTILINE))
    names |= set(re.findall(r"^([a-zA-Z_:][\w:]*)[{ ]", text, re.MULTILINE))
    for family, kind in re.findall(r"^# TYPE (\S+) (\w+)", text, re.MULTILINE):
        if kind == "histogram":
            names |= {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
        if kind == "counter":
            names.add(f"{family}_total")
    return names


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_for(check: Any) -> Any:
    return wait_until(check, within=45, every=0.5)


def test_a_case_drives_the_flow_metrics(services: dict[str, Any]) -> None:
    urls = services["urls"]
    wait_for(lambda: httpx.get(f"{urls['grid-routing']}/grid-sets", timeout=2).json())
    response = httpx.post(
        f"{urls['intake']}/v1/cases",
        headers={"X-API-Key": services["key"]},
        json={
            "channel": "hotline",
            "category": "sanitation",
            "title": "垃圾未清运",
            "description": "小区门口垃圾两天未清运",
            "hotline": {"call_id": "call-ops-1", "operator_id": "op-1"},
            "location": {"lon": 113.58, "lat": 37.86},
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text

    received = wait_for(
        lambda: sample(
            scrape(urls["oversight"]),
            "yiwang_case_transitions_total",
            service="oversight",
            to_state="received",
            channel="hotline",
        )
    )
    assert received == 1.0
    by_category = sample(
        scrape(urls["oversight"]),
        "yiwang_case_transitions_by_category_total",
        to_state="received",
        category="sanitation",
    )
    assert by_category == 1.0
    # Routing works on its own clock: wait for its relay to publish the routing decision.
    published = wait_for(
        lambda: sample(
            scrape(urls["grid-routing"]), "yiwang_outbox_published_total", service="grid-routing"
        )
    )
    assert published >= 1


def test_consumer_lag_is_reported_per_group_and_topic(services: dict[str, Any]) -> None:
    url = services["urls"]["grid-routing"]
    lag = wait_for(
        lambda: (
            sample(
                scrape(url),
                "yiwang_consumer_lag",
                service="grid-routing",
                group=f"{PREFIX}yiwang-grid-routing",
                topic=f"{PREFIX}case.received.v1",
            )
            is not None
        )
    )
    assert lag, "no lag series for grid-routing's subscription"
    settled = wait_for(
        lambda: sample(scrape(url), "yiwang_consumer_lag", topic=f"{PREFIX}case.received.v1") == 0.0
    )
    assert settled, "grid-routing's lag did not come back to 0"


def test_dashboards_and_alert_rules_read_only_exported_metrics(services: dict[str, Any]) -> None:
    promql = _promql()
    exported = set().union(*(exported_names(scrape(u)) for u in services["urls"].values()))
    used = {
        (board, title, name)
        for board, title, expr in promql.dashboard_exprs()
        for name in promql.metric_names(expr)
    }
    assert len(used) > 20
    missing = {u for u in used if u[2] not in exported | promql.SYNTHETIC}
    assert missing == set()
    rules = (ROOT / "deploy/prometheus/rules/yiwang.rules.yml").read_text()
    exprs = re.findall(r"expr: (?:\|\n((?:\s{10}.*\n)+)|(.*))", rules)
    in_rules = set().union(*(promql.metric_names(a or b) for a, b in exprs))
    assert in_rules - exported - promql.SYNTHETIC == set()
