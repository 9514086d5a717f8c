"""Oversight's settings: the common ones plus its background jobs, how cases end, label
bounds and the weights of 一考双评."""

from __future__ import annotations

from pydantic import Field, model_validator
from yiwang.common.settings import CommonSettings
from yiwang.oversight.domain.assessment import EvaluationWeights, check_weights


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
    # A resolved case nobody evaluates is closed this many working days after it was
    # resolved (未评价).
    close_after_working_days: int = Field(
        default=3, alias="OVERSIGHT_CLOSE_AFTER_WORKING_DAYS", ge=1, le=60
    )
    # A case in a hand-off state (received, routed, returned) this long, on the service
    # clock, is stranded: flagged to the county once per stay.
    stranded_after_minutes: int = Field(
        default=60, alias="OVERSIGHT_STRANDED_AFTER_MINUTES", ge=1, le=525_600
    )
    # 一考双评: how the township's assessment and residents' satisfaction weigh in a
    # department's evaluation score; they must sum to 1.
    weight_township: float = Field(default=0.5, alias="OVERSIGHT_WEIGHT_TOWNSHIP", ge=0, le=1)
    weight_residents: float = Field(default=0.5, alias="OVERSIGHT_WEIGHT_RESIDENTS", ge=0, le=1)

    # 对账: where oversight asks intake and department-dispatch for their cases of a period.
    intake_url: str = Field(default="http://127.0.0.1:8001", alias="OVERSIGHT_INTAKE_URL")
    dispatch_url: str = Field(default="http://127.0.0.1:8003", alias="OVERSIGHT_DISPATCH_URL")
    peer_timeout_seconds: float = Field(
        default=30.0, alias="OVERSIGHT_PEER_TIMEOUT_SECONDS", gt=0, le=600
    )

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> OversightSettings:
        check_weights(self.evaluation_weights)  # BadWeights is a ValueError: refused at start
        return self

    @property
    def evaluation_weights(self) -> EvaluationWeights:
        return EvaluationWeights(township=self.weight_township, residents=self.weight_residents)
