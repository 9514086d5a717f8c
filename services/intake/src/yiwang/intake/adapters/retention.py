"""How long intake keeps its idempotency keys: as long as its submission topic keeps the
records they guard (a record redelivered later than that cannot exist), plus the grace."""

from __future__ import annotations

from yiwang.common.retention import Retained, topic_retention_days
from yiwang.common.settings import CommonSettings
from yiwang.common.topics import INTAKE_SUBMISSIONS


def retained(settings: CommonSettings) -> tuple[Retained, ...]:
    days = topic_retention_days(INTAKE_SUBMISSIONS) + settings.retention_grace_days
    return (Retained("idempotency_keys", "created_at", days),)
