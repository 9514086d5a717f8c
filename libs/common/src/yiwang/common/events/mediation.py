"""People's mediation progress."""

from __future__ import annotations

from typing import ClassVar

from yiwang.common.events.base import CaseEvent


class MediationProgressed(CaseEvent):
    event_type: ClassVar[str] = "yiwang.mediation.progressed.v1"

    mediation_id: str
    level: str
    step: str
    outcome: str | None = None
