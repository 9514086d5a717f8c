"""Grafana dashboards: in sync with their generator, well-formed, and reading only metrics
defined in the code (the live /metrics check is tests/integration/test_operations.py)."""

from __future__ import annotations

import json
import re

from deploy_support import DEPLOY, ROOT, load

GRAFANA = DEPLOY / "grafana"
generate = load(GRAFANA / "generate.py")
promql = load(GRAFANA / "promql.py")


def defined_metrics() -> set[str]:
    """Names passed to prometheus_client constructors anywhere in the services and libs."""
    names = set()
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        for kind, name in re.findall(r"\b(Counter|Gauge|Histogram)\(\s*\"([a-z_:]+)\"", text):
            names.add(name)
            if kind == "Histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_the_committed_dashboards_match_their_generator() -> None:
    for name, text in generate.render().items():
        committed = (GRAFANA / "dashboards" / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run uv run python deploy/grafana/generate.py"


def test_dashboards_are_valid_json_with_unique_ids_and_queries() -> None:
    uids = set()
    titles = set()
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        assert board["uid"] not in uids
        uids.add(board["uid"])
        titles.add(board["title"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for p in board["panels"]:
            if p["type"] == "row":
                continue
            assert p["targets"], f"{path.name}: {p['title']} has no query"
            assert p["datasource"]["uid"] == "${datasource}"
            for target in p["targets"]:
                assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    assert {"yiwang-pipeline", "yiwang-cases", "yiwang-departments", "yiwang-mediation"} <= uids


def test_every_query_reads_only_metrics_the_code_defines() -> None:
    defined = defined_metrics() | promql.SYNTHETIC
    unknown = {
        (board, title, name)
        for board, title, expr in promql.dashboard_exprs()
        for name in promql.metric_names(expr)
        if name not in defined
    }
    assert unknown == set()


def test_the_alert_rules_read_only_metrics_the_code_defines() -> None:
    rules = (DEPLOY / "prometheus/rules/yiwang.rules.yml").read_text()
    exprs = re.findall(r"expr: (?:\|\n((?:\s{10}.*\n)+)|(.*))", rules)
    names = set().union(*(promql.metric_names(a or b) for a, b in exprs))
    assert "yiwang_consumer_lag" in names
    assert names - (defined_metrics() | promql.SYNTHETIC) == set()


def test_provisioning_points_grafana_at_the_dashboards_and_prometheus() -> None:
    datasource = (GRAFANA / "provisioning/datasources/prometheus.yaml").read_text()
    provider = (GRAFANA / "provisioning/dashboards/yiwang.yaml").read_text()
    assert "uid: prometheus" in datasource
    assert "url: http://prometheus:9090" in datasource
    assert "path: /var/lib/grafana/dashboards" in provider
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in compose
