"""Writes the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json).

The JSON files are committed; this script is their source. Edit a panel here and run
`uv run python deploy/grafana/generate.py`; tests/deploy checks the files are in sync.
Every query uses only metrics the services export (checked against live /metrics scrapes
in tests/integration/test_operations.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
LIFECYCLE = 'service="oversight"'  # transitions are counted where case.lifecycle.v1 is consumed


def panel(
    title: str,
    *exprs: tuple[str, str],
    kind: str = "timeseries",
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    description: str = "",
    instant: bool = False,
) -> dict[str, Any]:
    targets = [
        {
            "datasource": DS,
            "expr": expr,
            "legendFormat": legend,
            "refId": chr(ord("A") + i),
            **({"instant": True, "format": "table"} if instant else {}),
        }
        for i, (expr, legend) in enumerate(exprs)
    ]
    p: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": targets,
    }
    if kind == "table":
        p["transformations"] = [{"id": "merge", "options": {}}]
    return p


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"w": 24, "h": 1}}


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at 24 columns; ids in order."""
    x = y = line_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24 or p["type"] == "row":
            x, y, line_h = 0, y + line_h, 0
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        p["id"] = i
        x, line_h = x + w, max(line_h, h)
    return panels


def variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
    }


def dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    datasource = {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": "prometheus"},
    }
    return {
        "uid": uid,
        "title": title,
        "tags": ["yiwang"],
        "timezone": "Asia/Shanghai",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [datasource, *variables]},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["yiwang"], "asDropdown": True, "title": "Yiwang"}
        ],
        "panels": layout(panels),
    }


def pipeline() -> dict[str, Any]:
    svc = 'service=~"$service"'
    panels = [
        row("Services"),
        panel(
            "Service up",
            ('up{job="yiwang"}', "{{service}}"),
            kind="stat",
            w=24,
            h=4,
            description="1 when Prometheus scraped the service's /metrics",
        ),
        row("Throughput and latency"),
        panel(
            "Records handled per second",
            (
                f'sum by (service, topic) (rate(yiwang_events_consumed_total{{{svc}, outcome="handled"}}[5m]))',
                "{{service}} {{topic}}",
            ),
            unit="ops",
        ),
        panel(
            "Handling latency p95 (commit included)",
            (
                f"histogram_quantile(0.95, sum by (le, service, topic) (rate(yiwang_event_handling_seconds_bucket{{{svc}}}[5m])))",
                "{{service}} {{topic}}",
            ),
            unit="s",
        ),
        panel(
            "HTTP requests per second",
            (
                f"sum by (service, route) (rate(yiwang_http_requests_total{{{svc}}}[5m]))",
                "{{service}} {{route}}",
            ),
            unit="reqps",
        ),
        panel(
            "HTTP latency p95",
            (
                f"histogram_quantile(0.95, sum by (le, service, route) (rate(yiwang_http_request_seconds_bucket{{{svc}}}[5m])))",
                "{{service}} {{route}}",
            ),
            unit="s",
        ),
        row("Lag and backlog"),
        panel(
            "Consumer lag (records)",
            (f"max by (group, topic) (yiwang_consumer_lag{{{svc}}})", "{{group}} {{topic}}"),
            description="Records not yet committed, per consumer group and topic",
        ),
        panel(
            "Outbox backlog and oldest age",
            (f"max by (service) (yiwang_outbox_backlog{{{svc}}})", "{{service}} backlog"),
            (
                f"max by (service) (yiwang_outbox_oldest_age_seconds{{{svc}}})",
                "{{service}} age (s)",
            ),
        ),
        panel(
            "Events published by the outbox relay per second",
            (
                f"sum by (service) (rate(yiwang_outbox_published_total{{{svc}}}[5m]))",
                "{{service}}",
            ),
            unit="ops",
        ),
        panel(
            "Lag poll failures",
            (
                f'sum by (service) (increase(yiwang_consumer_lag_polls_total{{{svc}, outcome="failed"}}[15m]))',
                "{{service}}",
            ),
        ),
        row("Errors"),
        panel(
            "Dead letters (last hour)",
            (
                f"sum by (service, topic) (increase(yiwang_dead_letters_total{{{svc}}}[1h]))",
                "{{service}} {{topic}}",
            ),
        ),
        panel(
            "Handler failures per second (retried)",
            (
                f'sum by (service, topic) (rate(yiwang_events_consumed_total{{{svc}, outcome="failed"}}[5m]))',
                "{{service}} {{topic}} fault",
            ),
            (
                f'sum by (service, topic) (rate(yiwang_events_consumed_total{{{svc}, outcome="outage"}}[5m]))',
                "{{service}} {{topic}} outage",
            ),
            unit="ops",
            description="faults count towards the 5 attempts before a dead letter; outages "
            "(database or broker away) are retried without counting",
        ),
        panel(
            "HTTP 5xx ratio",
            (
                f'sum by (service) (rate(yiwang_http_requests_total{{{svc}, status=~"5.."}}[5m])) / sum by (service) (rate(yiwang_http_requests_total{{{svc}}}[5m]))',
                "{{service}}",
            ),
            unit="percentunit",
        ),
        panel(
            "Records by outcome per second",
            (
                f"sum by (service, outcome) (rate(yiwang_events_consumed_total{{{svc}}}[5m]))",
                "{{service}} {{outcome}}",
            ),
            unit="ops",
        ),
    ]
    service = variable("service", "label_values(yiwang_http_requests_total, service)", "Service")
    return dashboard("yiwang-pipeline", "Yiwang · pipeline health", panels, [service])


def cases() -> dict[str, Any]:
    town = 'township=~"$township"'
    panels = [
        row("Now"),
        panel(
            "Open cases",
            (f"sum(yiwang_oversight_cases_open{{{town}}})", "open"),
            kind="stat",
            w=6,
            h=4,
        ),
        panel(
            "Overdue cases",
            (f"sum(yiwang_oversight_cases_overdue{{{town}}})", "overdue"),
            kind="stat",
            w=6,
            h=4,
        ),
        panel(
            "Cases received (range)",
            (
                f'sum(increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="received"}}[$__range]))',
                "received",
            ),
            kind="stat",
            w=6,
            h=4,
        ),
        panel(
            "Cases resolved (range)",
            (
                f'sum(increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="resolved"}}[$__range]))',
                "resolved",
            ),
            kind="stat",
            w=6,
            h=4,
        ),
        row("Flow"),
        panel(
            "Cases received per hour, by channel",
            (
                f'sum by (channel) (increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="received"}}[1h]))',
                "{{channel}}",
            ),
        ),
        panel(
            "Cases entering each state per hour",
            (
                f"sum by (to_state) (increase(yiwang_case_transitions_total{{{LIFECYCLE}}}[1h]))",
                "{{to_state}}",
            ),
        ),
        panel(
            "Cases received by category (range, top 15)",
            (
                f'topk(15, sum by (category) (increase(yiwang_case_transitions_by_category_total{{{LIFECYCLE}, to_state="received"}}[$__range])))',
                "{{category}}",
            ),
            kind="barchart",
            instant=True,
        ),
        panel(
            "Cases received by channel (range)",
            (
                f'sum by (channel) (increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="received"}}[$__range]))',
                "{{channel}}",
            ),
            kind="piechart",
            instant=True,
        ),
        row("Townships"),
        panel(
            "Open cases by township",
            (f"sum by (township) (yiwang_oversight_cases_open{{{town}}})", "{{township}}"),
        ),
        panel(
            "Overdue cases by township",
            (f"sum by (township) (yiwang_oversight_cases_overdue{{{town}}})", "{{township}}"),
        ),
        panel(
            "Township KPIs (rolling window)",
            (f"yiwang_oversight_township_kpi_ratio{{{town}}}", "{{township}} {{kpi}}"),
            kind="table",
            unit="percentunit",
            w=24,
            instant=True,
        ),
    ]
    township = variable(
        "township", "label_values(yiwang_oversight_cases_open, township)", "Township"
    )
    return dashboard("yiwang-cases", "Yiwang · cases", panels, [township])


def departments() -> dict[str, Any]:
    dept = 'department=~"$department"'

    def kpi(name: str) -> str:
        return f'yiwang_oversight_department_kpi_ratio{{kpi="{name}", {dept}}}'

    panels = [
        row("The three rates (rolling KPI window)"),
        panel(
            "Response rate (响应率)",
            (kpi("response_rate"), "{{department}}"),
            kind="bargauge",
            unit="percentunit",
            w=8,
            instant=True,
        ),
        panel(
            "Resolution rate (解决率)",
            (kpi("resolution_rate"), "{{department}}"),
            kind="bargauge",
            unit="percentunit",
            w=8,
            instant=True,
        ),
        panel(
            "Satisfaction rate (满意率)",
            (kpi("satisfaction_rate"), "{{department}}"),
            kind="bargauge",
            unit="percentunit",
            w=8,
            instant=True,
        ),
        panel(
            "On-time rate",
            (kpi("on_time_rate"), "{{department}}"),
            unit="percentunit",
            w=8,
        ),
        panel("Return rate", (kpi("return_rate"), "{{department}}"), unit="percentunit", w=8),
        panel(
            "Whistle attendance rate",
            (kpi("whistle_attendance_rate"), "{{department}}"),
            unit="percentunit",
            w=8,
        ),
        row("Workload"),
        panel(
            "Overdue cases by department",
            (f"sum by (department) (yiwang_oversight_cases_overdue{{{dept}}})", "{{department}}"),
        ),
        panel(
            "Open cases by department",
            (f"sum by (department) (yiwang_oversight_cases_open{{{dept}}})", "{{department}}"),
        ),
        panel(
            "Work orders sent per hour, by department topic",
            (
                'sum by (topic) (increase(yiwang_outbox_published_total{service="department-dispatch", topic=~".*dept\\\\..+\\\\.cases\\\\.v1"}[1h]))',
                "{{topic}}",
            ),
        ),
        panel(
            "Returns (退单) per hour",
            (
                f'sum(increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="returned"}}[1h]))',
                "returned",
            ),
        ),
        row("Whistles, alerts and security"),
        panel(
            "Whistle attendance per hour, by outcome",
            (
                "sum by (outcome) (increase(yiwang_dispatch_whistle_attendance_total[1h]))",
                "{{outcome}}",
            ),
        ),
        panel(
            "Oversight alerts per hour, by kind",
            (
                "sum by (kind, command_level) (increase(yiwang_oversight_alerts_raised_total[1h]))",
                "{{kind}} ({{command_level}})",
            ),
        ),
        panel(
            "Rejected department replies per hour",
            (
                "sum by (channel, reason) (increase(yiwang_dispatch_reply_rejections_total[1h]))",
                "{{channel}} {{reason}}",
            ),
        ),
        panel(
            "Security events per hour (bad credential, not the assignee)",
            (
                "sum by (channel, reason) (increase(yiwang_dispatch_security_events_total[1h]))",
                "{{channel}} {{reason}}",
            ),
        ),
    ]
    department = variable(
        "department",
        "label_values(yiwang_oversight_department_kpi_ratio, department)",
        "Department",
    )
    return dashboard("yiwang-departments", "Yiwang · departments", panels, [department])


def mediation() -> dict[str, Any]:
    med = 'service="mediation"'
    panels = [
        row("Cases in people's mediation"),
        panel(
            "Cases entering mediation per hour",
            (
                f'sum(increase(yiwang_case_transitions_total{{{LIFECYCLE}, to_state="in_mediation"}}[1h]))',
                "in mediation",
            ),
        ),
        panel(
            "Mediation outcomes per hour",
            (
                f'sum by (to_state) (increase(yiwang_case_transitions_total{{{LIFECYCLE}, from_state="in_mediation"}}[1h]))',
                "{{to_state}}",
            ),
            description="resolved = agreement reached; routed = referred back to a department",
        ),
        panel(
            "Disputes sent to mediation by category (range)",
            (
                f'sum by (category) (increase(yiwang_case_transitions_by_category_total{{{LIFECYCLE}, to_state="in_mediation"}}[$__range]))',
                "{{category}}",
            ),
            kind="barchart",
            instant=True,
        ),
        panel(
            "Mediation events published per hour",
            (f"sum by (topic) (increase(yiwang_outbox_published_total{{{med}}}[1h]))", "{{topic}}"),
        ),
        row("Mediation service health"),
        panel(
            "Consumer lag",
            (f"max by (group, topic) (yiwang_consumer_lag{{{med}}})", "{{topic}}"),
            w=8,
        ),
        panel(
            "Handling latency p95",
            (
                f"histogram_quantile(0.95, sum by (le, topic) (rate(yiwang_event_handling_seconds_bucket{{{med}}}[5m])))",
                "{{topic}}",
            ),
            unit="s",
            w=8,
        ),
        panel(
            "Dead letters (last hour)",
            (f"sum by (topic) (increase(yiwang_dead_letters_total{{{med}}}[1h]))", "{{topic}}"),
            w=8,
        ),
    ]
    return dashboard("yiwang-mediation", "Yiwang · mediation", panels, [])


DASHBOARDS = {
    "pipeline.json": pipeline,
    "cases.json": cases,
    "departments.json": departments,
    "mediation.json": mediation,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(DASHBOARDS)} dashboards to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
