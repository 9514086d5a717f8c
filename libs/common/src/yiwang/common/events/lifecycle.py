"""The one timeline: every state change of every case, on case.lifecycle.v1."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime
from yiwang.common.case import (
    Channel,
    Priority,
)
from yiwang.common.departments import Department
from yiwang.common.events.base import CaseEvent
from yiwang.common.states import CaseState


class CaseStateChanged(CaseEvent):
    """On case.lifecycle.v1: one entry in the case's timeline."""

    event_type: ClassVar[str] = "yiwang.case.state-changed.v1"

    case_number: str | None = None
    from_state: CaseState | None
    to_state: CaseState
    actor: str  # who did it: a service, a department code, or a role such as "grid-worker"
    note: str | None = None
    at: AwareDatetime
    department: Department | None = None
    township_code: str | None = None
    micro_grid: str | None = None
    category: str | None = None
    channel: Channel | None = None
    priority: Priority | None = None
