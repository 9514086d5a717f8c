"""Mediation settings, from the environment."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings

# Development only: make run and the tests need no configuration. Every real deployment
# sets MEDIATION_PII_KEY (base64 of 32 random bytes) from a secret.
DEVELOPMENT_PII_KEY = "eWl3YW5nLW1lZGlhdGlvbi1kZXYtb25seS1waWktayE="


class MediationSettings(CommonSettings):
    pii_key: str = Field(default=DEVELOPMENT_PII_KEY, alias="MEDIATION_PII_KEY")
    # How long each rung of the ladder may hold a dispute before it moves up.
    level_time_limit_days: float = Field(default=30.0, alias="MEDIATION_LEVEL_DAYS", gt=0)
    timer_poll_seconds: float = Field(default=1.0, alias="MEDIATION_TIMER_POLL_SECONDS", gt=0)
    # The county whose district centre and trade committees take cases with no micro-grid,
    # and whose roster is seeded when the roster is empty (0 townships: no seeding).
    county_code: str = Field(default="140302", alias="MEDIATION_COUNTY_CODE", pattern=r"^\d{6}$")
    seed_townships: int = Field(default=7, alias="MEDIATION_SEED_TOWNSHIPS", ge=0, le=99)
