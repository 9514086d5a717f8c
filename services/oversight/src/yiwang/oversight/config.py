"""Oversight's settings: the common ones plus its background jobs and label bounds."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings


class OversightSettings(CommonSettings):
    # Real seconds between timer sweeps (the clock itself may run fast: YIWANG_CLOCK_SPEED).
    timer_poll_seconds: float = Field(default=1.0, alias="OVERSIGHT_TIMER_POLL_SECONDS", gt=0)
    metrics_refresh_seconds: float = Field(
        default=15.0, alias="OVERSIGHT_METRICS_REFRESH_SECONDS", gt=0
    )
    # The KPI gauges cover the cases received in this many days up to now.
    kpi_window_days: int = Field(default=30, alias="OVERSIGHT_KPI_WINDOW_DAYS", ge=1, le=366)
    # Townships get their own label value up to this many; the rest count as "other".
    max_township_labels: int = Field(default=100, alias="OVERSIGHT_MAX_TOWNSHIP_LABELS", ge=1)
