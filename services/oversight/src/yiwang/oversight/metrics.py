"""Prometheus metrics for oversight: every KPI, open and overdue counts.

Cardinality is bounded: departments are an enum (14 codes); townships come from the
county's own admin tree (a county has tens of townships and streets, Lizhou district 7),
and at most `OversightSettings.max_township_labels` of them get their own label value;
any further township is counted under "other". KPI gauges are labelled by department or
by township, never by both, so a county of T townships has at most 10 x (15 + T) KPI
series and 2 x 15 x (T + 1) open/overdue series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NO_TOWNSHIP = "unknown"
OTHER_TOWNSHIP = "other"
NO_DEPARTMENT = "unassigned"

CASES_OPEN = Gauge(
    "yiwang_oversight_cases_open",
    "Open cases (not resolved, evaluated, closed, rejected or duplicate; a case reopened "
    "for re-handling is open)",
    ["department", "township"],
)
CASES_OVERDUE = Gauge(
    "yiwang_oversight_cases_overdue",
    "Open or unresolved cases with a running SLA clock past its deadline",
    ["department", "township"],
)
DEPARTMENT_KPI = Gauge(
    "yiwang_oversight_department_kpi_ratio",
    "A KPI (see docs/oversight.md) of a department over the rolling KPI window, 0-1",
    ["kpi", "department"],
)
TOWNSHIP_KPI = Gauge(
    "yiwang_oversight_township_kpi_ratio",
    "A KPI (see docs/oversight.md) of a township over the rolling KPI window, 0-1",
    ["kpi", "township"],
)
ALERTS_RAISED = Counter(
    "yiwang_oversight_alerts_raised_total",
    "Alerts raised: warnings, yellow and red cards, bounced, stagnant and stranded cases",
    ["kind", "command_level"],
)
TIMERS_FIRED = Counter(
    "yiwang_oversight_timers_fired_total",
    "Timers fired, by outcome: alerted, closed (a resolved case nobody evaluated), stopped",
    ["outcome"],
)


def township_label(township: str | None, allowed: set[str], *, limit: int) -> str:
    """The township's label value, keeping at most `limit` distinct townships."""
    if not township:
        return NO_TOWNSHIP
    if township in allowed:
        return township
    if len(allowed) < limit:
        allowed.add(township)
        return township
    return OTHER_TOWNSHIP
