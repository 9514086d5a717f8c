"""How long oversight keeps fired timers: a fired timer's row stops it firing twice, which
matters only while its case can still move; once the case has ended (closed or rejected)
nothing can arm that timer again, and after the grace the row goes."""

from __future__ import annotations

from yiwang.common.retention import Retained
from yiwang.common.settings import CommonSettings
from yiwang.common.states import TERMINAL_STATES


def retained(settings: CommonSettings) -> tuple[Retained, ...]:
    ended = ", ".join(f"'{state.value}'" for state in sorted(TERMINAL_STATES))
    return (
        Retained(
            "timers",
            "fired_at",
            max(settings.retention_grace_days, 1),
            condition=f"case_id IN (SELECT case_id FROM cases WHERE state IN ({ended}))",
        ),
    )
