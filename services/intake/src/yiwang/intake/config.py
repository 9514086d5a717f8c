"""Intake's settings: the county it serves, duplicate windows, the personal-data key and
how long personal data is kept."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings

# Development only: make run and the tests need no configuration. Every real deployment
# sets INTAKE_PII_KEY (docker-compose and deploy/k8s read it from a secret).
DEVELOPMENT_PII_KEY = "eWl3YW5nLWRldmVsb3BtZW50LW9ubHktcGlpLWtleSE="


class IntakeSettings(CommonSettings):
    county_code: str = Field(default="YQ", alias="INTAKE_COUNTY_CODE", pattern=r"^[A-Z]{2,6}$")
    county_name: str = Field(default="阳泉示范县", alias="INTAKE_COUNTY_NAME")
    # min lon, min lat, max lon, max lat (WGS-84) of the county's area, as JSON.
    county_bbox: tuple[float, float, float, float] = Field(
        default=(113.2, 37.6, 113.9, 38.2), alias="INTAKE_COUNTY_BBOX"
    )
    duplicate_radius_m: float = Field(default=250.0, alias="INTAKE_DUPLICATE_RADIUS_M", ge=0)
    duplicate_window_hours: float = Field(default=24.0, alias="INTAKE_DUPLICATE_WINDOW_HOURS", ge=0)
    # `kid:base64,kid2:base64` (the first seals, all open), or one bare base64 key.
    pii_key: str = Field(default=DEVELOPMENT_PII_KEY, alias="INTAKE_PII_KEY")
    # Sealed personal data of cases closed (or rejected) longer ago than this is erased.
    pii_retention_days: int = Field(default=730, alias="INTAKE_PII_RETENTION_DAYS", ge=1, le=36500)
    pii_erase_every_seconds: float = Field(
        default=3600.0, alias="INTAKE_PII_ERASE_EVERY_SECONDS", gt=0
    )
    pii_erase_batch: int = Field(default=500, alias="INTAKE_PII_ERASE_BATCH", ge=1, le=10_000)
    open311_jurisdiction: str = Field(
        default="yq.yiwang.local", alias="INTAKE_OPEN311_JURISDICTION"
    )
    public_base_url: str = Field(default="http://127.0.0.1:8001", alias="INTAKE_PUBLIC_BASE_URL")
