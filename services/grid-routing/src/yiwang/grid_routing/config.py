"""Grid-routing settings."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings


class GridRoutingSettings(CommonSettings):
    # With no grid set stored, generate and import this synthetic county at start-up
    # ("tiny", "district", "city"), so `make run` routes with no configuration. Empty: wait
    # for an import instead.
    bootstrap_preset: str = Field(
        default="district",
        alias="GRID_ROUTING_BOOTSTRAP_PRESET",
        pattern=r"^(tiny|district|city)?$",
    )
    # How often to look for a newly switched-in grid set version.
    grid_check_seconds: float = Field(default=15.0, alias="GRID_ROUTING_CHECK_SECONDS", gt=0)
    # How often to pass up grid tasks whose grid deadline passed (real seconds).
    grid_sweep_seconds: float = Field(default=30.0, alias="GRID_ROUTING_GRID_SWEEP_SECONDS", gt=0)
