"""The demo view renders one frame from canned API answers (no network, no services)."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import httpx

VIEW = Path(__file__).resolve().parents[3] / "infra" / "demo_view.py"
URLS = {
    "intake": "http://intake",
    "grid-routing": "http://routing",
    "department-dispatch": "http://dispatch",
    "mediation": "http://mediation",
    "oversight": "http://oversight",
}
OVERSIGHT_METRICS = """\
# TYPE yiwang_case_transitions_total counter
yiwang_case_transitions_total{channel="hotline",from_state="none",service="oversight",to_state="received"} 12.0
yiwang_case_transitions_total{channel="open311",from_state="none",service="oversight",to_state="received"} 3.0
yiwang_case_transitions_total{channel="hotline",from_state="received",service="oversight",to_state="routed"} 11.0
# TYPE yiwang_oversight_alerts_raised_total counter
yiwang_oversight_alerts_raised_total{command_level="city",kind="red_card"} 2.0
yiwang_oversight_alerts_raised_total{command_level="township",kind="yellow_card"} 5.0
"""
DISPATCH_METRICS = """\
# TYPE yiwang_dispatch_whistle_attendance_total counter
yiwang_dispatch_whistle_attendance_total{outcome="on_time"} 4.0
yiwang_dispatch_whistle_attendance_total{outcome="missed"} 1.0
# TYPE yiwang_dispatch_reminders_total counter
yiwang_dispatch_reminders_total{kind="warning"} 6.0
yiwang_dispatch_reminders_total{kind="yellow_card"} 2.0
# TYPE yiwang_dispatch_rulings_total counter
yiwang_dispatch_rulings_total{department="health"} 1.0
yiwang_dispatch_rulings_total{department="housing"} 2.0
"""
OVERALL = {"group": "all", "cases": 60, "evaluated_close_rate": 0.8,
           "evaluated_close_rate_numerator": 8, "evaluated_close_rate_denominator": 10,
           "rehandling_rate": 0.25, "rehandling_rate_numerator": 2,
           "rehandling_rate_denominator": 8, "rehandled_to_hub_rate": 0.5,
           "rehandled_to_hub_rate_numerator": 1, "rehandled_to_hub_rate_denominator": 2,
           "settled_in_grid_share": 0.6, "settled_in_grid_share_numerator": 6,
           "settled_in_grid_share_denominator": 10}  # fmt: skip
TOWNSHIP_ROW = {"group": "140399001", "cases": 30, "settled_in_grid_share": 0.75,
                "settled_in_grid_share_numerator": 3, "settled_in_grid_share_denominator": 4}  # fmt: skip
MEDIATION_METRICS = """\
# TYPE yiwang_mediation_outcomes_total counter
yiwang_mediation_outcomes_total{dispute_type="neighbour",level="grid",outcome="agreement"} 7.0
yiwang_mediation_outcomes_total{dispute_type="family",level="grid",outcome="agreement"} 2.0
yiwang_mediation_outcomes_total{dispute_type="neighbour",level="township",outcome="failed"} 1.0
"""
KPI_ROW = {
    "group": "urban-management",
    "cases": 40,
    "response_rate": 0.9,
    "response_rate_numerator": 36,
    "response_rate_denominator": 40,
    "resolution_rate": 0.75,
    "resolution_rate_numerator": 30,
    "resolution_rate_denominator": 40,
    "satisfaction_rate": None,
    "satisfaction_rate_numerator": 0,
    "satisfaction_rate_denominator": 0,
    "whistle_attendance_rate": 0.5,
    "whistle_attendance_rate_numerator": 1,
    "whistle_attendance_rate_denominator": 2,
    "evaluation_score": 81.5,
}
OVERDUE = {"case_id": "c-1", "case_number": "YQ-20261122-00042", "state": "escalated",
           "lead_department": "emergency-management", "township_code": "140399001",
           "resolution_due": "2026-11-22T04:00:00Z"}  # fmt: skip


def load_view() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_view", VIEW)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_view"] = module
    spec.loader.exec_module(module)
    return module


def canned(request: httpx.Request) -> httpx.Response:
    host, path, params = request.url.host, request.url.path, request.url.params
    if host == "oversight" and path == "/cases":
        if params.get("overdue") == "true":
            return httpx.Response(200, json={"total": 3, "cases": [OVERDUE]})
        totals = {"dispatched": 17, "escalated": 2, "in_mediation": 4, "closed": 10}
        return httpx.Response(200, json={"total": totals.get(params["state"], 0), "cases": []})
    if host == "oversight" and path == "/kpis":
        rows = [TOWNSHIP_ROW] if params.get("group_by") == "township" else [KPI_ROW]
        return httpx.Response(200, json={"rows": rows, "overall": OVERALL})
    if host == "mediation" and path == "/mediations":
        count = {"pending": 2, "agreed": 5, "honoured": 3}.get(params["status"], 0)
        return httpx.Response(200, content=json.dumps([{}] * count))
    metrics = {"oversight": OVERSIGHT_METRICS, "dispatch": DISPATCH_METRICS,
               "mediation": MEDIATION_METRICS}  # fmt: skip
    if path == "/metrics" and host in metrics:
        return httpx.Response(200, text=metrics[host])
    return httpx.Response(404)


async def test_one_frame_from_canned_answers_shows_what_operators_need() -> None:
    view = load_view()
    now = datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(canned)) as client:
        snapshot = await view.fetch_snapshot(client, URLS, now=now)
    assert snapshot.stages["dispatched"] == 17
    assert snapshot.channels == {"hotline": 12.0, "open311": 3.0}
    assert snapshot.unreachable == []

    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    console.print(view.render(snapshot, URLS))
    frame = console.export_text()
    lines = frame.splitlines()

    def row(*cells: str) -> bool:
        return any(all(c in line for c in cells) for line in lines)

    assert "2026-11-22 10:30:00" in frame
    assert row("dispatched", "17")
    assert row("in_mediation", "4")
    assert row("hotline", "12")
    assert row("open311", "3")
    assert row("urban-management", "90% (36/40)", "75% (30/40)", "— (0/0)", "81.5", "40")
    # 小事不出网格: the settled-in-grid share per township and for the county.
    assert row("140399001", "75% (3/4)")
    assert row("county", "60% (6/10)")
    assert row("YQ-20261122-00042", "escalated", "emergency-management", "140399001")
    assert "Overdue cases (3)" in frame
    assert row("red_card", "city", "2")
    assert row("yellow_card", "township", "5")
    assert row("urban-management", "50% (1/2)")
    assert "missed 1, on_time 4" in frame
    assert row("grid: agreement", "9")
    assert row("township: failed", "1")
    assert row("honoured", "3")
    # How cases end: closed, after an evaluation or not, reopened, ruled, reminded.
    assert row("closed", "10")
    assert row("of them after an evaluation", "80% (8/10)")
    assert row("reopened for re-handling", "25% (2/8)")
    assert row("sent on to the hub", "50% (1/2)")
    assert row("hub rulings", "3")
    assert "warning 6, yellow_card 2" in frame
    assert "http://oversight/metrics" in frame
    assert "deploy/grafana/dashboards" in frame


async def test_a_service_that_does_not_answer_is_named_and_the_rest_still_shows() -> None:
    view = load_view()

    def oversight_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "oversight":
            raise httpx.ConnectError("connection refused", request=request)
        return canned(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(oversight_down)) as client:
        snapshot = await view.fetch_snapshot(client, URLS)
    assert snapshot.unreachable == ["oversight"]
    assert snapshot.mediations["agreed"] == 5

    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    console.print(view.render(snapshot, URLS))
    assert "not answering: oversight" in console.export_text()
