"""How long mediation keeps fired timers: only while their mediation can still move; once
it has ended (honoured, withdrawn, referred or declined) and the grace has passed, they go."""

from __future__ import annotations

from yiwang.common.retention import Retained
from yiwang.common.settings import CommonSettings
from yiwang.mediation.domain.workflow import OPEN


def retained(settings: CommonSettings) -> tuple[Retained, ...]:
    still_open = ", ".join(f"'{status.value}'" for status in sorted(OPEN))
    return (
        Retained(
            "mediation_timer",
            "fired_at",
            max(settings.retention_grace_days, 1),
            condition="fired AND mediation_id IN (SELECT mediation_id FROM mediation_case"
            f" WHERE status NOT IN ({still_open}))",
        ),
    )
