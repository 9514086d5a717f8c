"""A live terminal view of a running Yiwang, for `make run` and for standalone use.

    uv run --frozen python infra/demo_view.py [--refresh 2] [--oversight http://127.0.0.1:8005]

It shows cases per stage and per channel, the three rates per department, how cases end
(closed after an evaluation or without one, reopened for re-handling, the hub's rulings,
reminders to departments), overdue cases and escalations, whistles and mediation outcomes, and where the metrics and dashboards
are. It reads only public interfaces: oversight's search, KPIs and daily report,
mediation's search, and the services' /metrics. A service that does not answer is named
on screen; the rest of the view keeps working.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_URLS = {
    "intake": "http://127.0.0.1:8001",
    "grid-routing": "http://127.0.0.1:8002",
    "department-dispatch": "http://127.0.0.1:8003",
    "mediation": "http://127.0.0.1:8004",
    "oversight": "http://127.0.0.1:8005",
}
STAGES = ("received", "routed", "dispatched", "acknowledged", "in_progress", "in_mediation",
          "returned", "escalated", "resolved", "evaluated", "closed", "duplicate", "rejected")  # fmt: skip
MEDIATION_STATUSES = ("pending", "accepted", "agreed", "honoured", "referred", "declined",
                      "withdrawn")  # fmt: skip
RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
KPI_WINDOW_DAYS = 30


@dataclass
class Snapshot:
    """One frame's worth of what the services report."""

    at: datetime
    stages: dict[str, int] = field(default_factory=dict)
    channels: dict[str, float] = field(default_factory=dict)
    departments: list[dict[str, Any]] = field(default_factory=list)
    townships: list[dict[str, Any]] = field(default_factory=list)  # with settled-in-grid share
    overdue: list[dict[str, Any]] = field(default_factory=list)
    overdue_total: int = 0
    alerts: dict[tuple[str, str], float] = field(default_factory=dict)
    whistle_outcomes: dict[str, float] = field(default_factory=dict)
    mediations: dict[str, int] = field(default_factory=dict)
    mediation_outcomes: dict[tuple[str, str], float] = field(default_factory=dict)
    overall: dict[str, Any] = field(default_factory=dict)  # the county's KPI row
    reminders: dict[str, float] = field(default_factory=dict)
    rulings: float = 0.0
    unreachable: list[str] = field(default_factory=list)


def samples(metrics_text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of one metric in a Prometheus text exposition."""
    found = []
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name:
                found.append((dict(sample.labels), float(sample.value)))
    return found


def summed(
    metrics_text: str, name: str, by: tuple[str, ...], **match: str
) -> dict[tuple[str, ...], float]:
    totals: dict[tuple[str, ...], float] = {}
    for labels, value in samples(metrics_text, name):
        if all(labels.get(k) == v for k, v in match.items()):
            key = tuple(labels.get(k, "") for k in by)
            totals[key] = totals.get(key, 0.0) + value
    return totals


async def fetch_snapshot(
    client: httpx.AsyncClient,
    base_urls: dict[str, str],
    *,
    now: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Snapshot:
    """Ask the services for one frame (as the auditor whose `headers` these are). Network
    errors are recorded, never raised."""
    at = now or datetime.now(SHANGHAI)
    snapshot = Snapshot(at=at)
    oversight, mediation = base_urls["oversight"], base_urls["mediation"]

    async def get(url: str, **params: Any) -> httpx.Response | None:
        try:
            response = await client.get(url, params=params, headers=headers, timeout=5)
            response.raise_for_status()
            return response
        except httpx.HTTPError:
            service = next((n for n, u in base_urls.items() if url.startswith(u)), url)
            if service not in snapshot.unreachable:
                snapshot.unreachable.append(service)
            return None

    today = at.astimezone(SHANGHAI).date()
    since = today - timedelta(days=KPI_WINDOW_DAYS - 1)
    stage_counts = await asyncio.gather(
        *(get(f"{oversight}/cases", state=s, limit=1) for s in STAGES)
    )
    for stage, response in zip(STAGES, stage_counts, strict=True):
        if response is not None:
            snapshot.stages[stage] = int(response.json()["total"])
    if kpis := await get(
        f"{oversight}/kpis", group_by="department", **{"from": since, "to": today}
    ):
        snapshot.departments = list(kpis.json()["rows"])
        snapshot.overall = dict(kpis.json().get("overall") or {})
    if by_township := await get(
        f"{oversight}/kpis", group_by="township", **{"from": since, "to": today}
    ):
        snapshot.townships = list(by_township.json()["rows"])
    if overdue := await get(f"{oversight}/cases", overdue="true", limit=8):
        snapshot.overdue = list(overdue.json()["cases"])
        snapshot.overdue_total = int(overdue.json()["total"])
    if metrics := await get(f"{oversight}/metrics"):
        text = metrics.text
        received = summed(text, "yiwang_case_transitions_total", ("channel",), to_state="received")
        snapshot.channels = {k[0]: v for k, v in received.items()}
        alerts = summed(text, "yiwang_oversight_alerts_raised_total", ("kind", "command_level"))
        snapshot.alerts = {(k[0], k[1]): v for k, v in alerts.items()}
    if dispatch := await get(f"{base_urls['department-dispatch']}/metrics"):
        whistles = summed(dispatch.text, "yiwang_dispatch_whistle_attendance_total", ("outcome",))
        snapshot.whistle_outcomes = {k[0]: v for k, v in whistles.items()}
        reminders = summed(dispatch.text, "yiwang_dispatch_reminders_total", ("kind",))
        snapshot.reminders = {k[0]: v for k, v in reminders.items()}
        snapshot.rulings = sum(summed(dispatch.text, "yiwang_dispatch_rulings_total", ()).values())
    for status in MEDIATION_STATUSES:
        if found := await get(f"{mediation}/mediations", status=status, limit=500):
            snapshot.mediations[status] = len(found.json())
    if mediation_metrics := await get(f"{mediation}/metrics"):
        outcomes = summed(mediation_metrics.text, "yiwang_mediation_outcomes_total",
                          ("level", "outcome"))  # fmt: skip
        snapshot.mediation_outcomes = {(k[0], k[1]): v for k, v in outcomes.items()}
    return snapshot


def _percent(row: dict[str, Any], kpi: str) -> str:
    value = row.get(kpi)
    shown = "—" if value is None else f"{100 * value:.0f}%"
    return f"{shown} ({row.get(f'{kpi}_numerator', 0)}/{row.get(f'{kpi}_denominator', 0)})"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", expand=True, show_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def render(
    snapshot: Snapshot, base_urls: dict[str, str], processes: dict[str, str] | None = None
) -> RenderableType:
    """One frame of the view; `processes`: make run's supervised processes and their state."""
    stages = _table("Cases per stage", "stage", "cases")
    for stage in STAGES:
        stages.add_row(stage, str(snapshot.stages.get(stage, 0)))
    channels = _table("Received per channel", "channel", "cases")
    for channel, count in sorted(snapshot.channels.items(), key=lambda c: -c[1]):
        channels.add_row(channel, f"{count:.0f}")
    rates = _table(f"The three rates and 一考双评, last {KPI_WINDOW_DAYS} days", "department",
                   "response", "resolution", "satisfaction", "evaluation", "cases")  # fmt: skip
    for row in sorted(snapshot.departments, key=lambda r: -int(r.get("cases", 0))):
        score = row.get("evaluation_score")
        rates.add_row(row["group"], *(_percent(row, k) for k in RATES),
                      "—" if score is None else f"{score:.1f}", str(row.get("cases", 0)))  # fmt: skip
    grid = _table("小事不出网格: settled in the grid", "township", "settled / left the grid")
    for row in snapshot.townships:
        if row.get("settled_in_grid_share_denominator"):
            grid.add_row(row["group"], _percent(row, "settled_in_grid_share"))
    grid.add_row("county", _percent(snapshot.overall, "settled_in_grid_share"))
    overdue = _table(f"Overdue cases ({snapshot.overdue_total})", "case", "state", "lead",
                     "township", "resolution due")  # fmt: skip
    for case in snapshot.overdue:
        overdue.add_row(case.get("case_number") or case["case_id"], case.get("state", ""),
                        case.get("lead_department") or "", case.get("township_code") or "",
                        str(case.get("resolution_due") or ""))  # fmt: skip
    alerts = _table("Escalations (alerts raised)", "alert", "command level", "count")
    for (kind, level), count in sorted(snapshot.alerts.items()):
        alerts.add_row(kind, level, f"{count:.0f}")
    outcomes = ", ".join(f"{k} {v:.0f}" for k, v in sorted(snapshot.whistle_outcomes.items()))
    whistles = _table(f"Whistles 吹哨报到 (attendance: {outcomes or 'none yet'})", "department",
                      "reported on time")  # fmt: skip
    for row in snapshot.departments:
        if row.get("whistle_attendance_rate_denominator"):
            whistles.add_row(row["group"], _percent(row, "whistle_attendance_rate"))
    ending = _table("How cases end", "", "count")
    stages_seen = snapshot.stages
    overall = snapshot.overall
    ending.add_row("closed", str(stages_seen.get("closed", 0)))
    ending.add_row("  of them after an evaluation", _percent(overall, "evaluated_close_rate"))
    ending.add_row("reopened for re-handling (不满意重办)", _percent(overall, "rehandling_rate"))
    ending.add_row("  sent on to the hub", _percent(overall, "rehandled_to_hub_rate"))
    ending.add_row("hub rulings (终审)", f"{snapshot.rulings:.0f}")
    shown = ", ".join(f"{k} {v:.0f}" for k, v in sorted(snapshot.reminders.items())) or "none yet"
    ending.add_row("reminders to departments", shown)
    mediation = _table("Mediation", "status / rung outcome", "count")
    for status, count in snapshot.mediations.items():
        mediation.add_row(status, str(count))
    for (level, outcome), count in sorted(snapshot.mediation_outcomes.items()):
        mediation.add_row(f"{level}: {outcome}", f"{count:.0f}")
    top, middle, bottom = Table.grid(expand=True), Table.grid(expand=True), Table.grid(expand=True)
    top.add_row(stages, channels, mediation)
    middle.add_row(rates)
    bottom.add_row(overdue, Group(ending, grid, alerts, whistles))
    metrics = "  ".join(f"{name} {url}/metrics" for name, url in base_urls.items())
    footer = Text.assemble(
        ("Metrics: ", "bold"), metrics, "\n",
        ("Dashboards: ", "bold"), "deploy/grafana/dashboards (cases, departments, mediation, "
        "pipeline); Prometheus rules in deploy/prometheus\n",
        ("APIs: ", "bold"), f"{base_urls['oversight']}/docs (KPIs, ledgers, timelines), "
        f"{base_urls['intake']}/docs, {base_urls['mediation']}/docs",
    )  # fmt: skip
    if snapshot.unreachable:
        footer.append(f"\nnot answering: {', '.join(snapshot.unreachable)}", style="bold red")
    if processes:
        restarted = any(state != "up" for state in processes.values())
        footer.append("\nProcesses: ", style="bold")
        footer.append(
            "  ".join(f"{name} {state}" for name, state in processes.items()),
            style="bold yellow" if restarted else "",
        )
    title = f"Yiwang 一网协同 — {snapshot.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S} Asia/Shanghai"
    return Panel(Group(top, middle, bottom, footer), title=title)


async def run_view(
    *,
    base_urls: dict[str, str],
    refresh_seconds: float = 2.0,
    processes: Callable[[], dict[str, str]] | None = None,
) -> None:
    """Redraw the view every `refresh_seconds` until cancelled."""
    from demo_people import People  # beside this file (infra/), on the path when run

    urls = {**DEFAULT_URLS, **base_urls}
    people = People()  # the view reads as the demo realm's auditor

    async def frame(client: httpx.AsyncClient) -> Snapshot:
        try:
            headers = await people.headers(client, "auditor")
        except httpx.HTTPError:
            headers = {}  # the identity provider is away: the services will say so
        return await fetch_snapshot(client, urls, headers=headers)

    async with httpx.AsyncClient() as client:
        snapshot = await frame(client)
        states = processes or dict
        with Live(render(snapshot, urls, states()), refresh_per_second=4, screen=False) as live:
            while True:
                await asyncio.sleep(refresh_seconds)
                live.update(render(await frame(client), urls, states()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python infra/demo_view.py")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between frames")
    for name, url in DEFAULT_URLS.items():
        parser.add_argument(f"--{name}", default=url, help=f"{name} base URL")
    args = parser.parse_args()
    urls = {name: getattr(args, name.replace("-", "_")) for name in DEFAULT_URLS}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_view(base_urls=urls, refresh_seconds=args.refresh))


if __name__ == "__main__":
    main()
