"""Oversight's alerts and residents' evaluations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints
from yiwang.common.case import (
    Code,
)
from yiwang.common.departments import Department
from yiwang.common.events.base import CaseEvent
from yiwang.common.events.dispatch import CommandLevel


class AlertKind(StrEnum):
    WARNING = "warning"  # a deadline is approaching
    YELLOW_CARD = "yellow_card"  # overdue
    RED_CARD = "red_card"  # still overdue after the yellow card
    BOUNCED = "bounced"  # two or more returns
    STAGNANT = "stagnant"
    STRANDED = "stranded"  # no owner and no running clock: nobody will act on it


class OversightAlertRaised(CaseEvent):
    event_type: ClassVar[str] = "yiwang.oversight.alert.v1"

    alert_id: str
    kind: AlertKind
    command_level: CommandLevel
    department: Department | None = None
    deadline: datetime | None = None
    reason: str


class CaseEvaluated(CaseEvent):
    event_type: ClassVar[str] = "yiwang.oversight.evaluation.v1"

    evaluation_id: Code
    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    # The resident's one-time evaluation token (EvaluationInvited); required on this topic.
    token: Annotated[str, StringConstraints(min_length=16, max_length=128)] | None = None


class CaseReopened(CaseEvent):
    """On case.reopened.v1: a resident was unsatisfied (不满意重办). The first time the case
    goes back to the department that resolved it, with a new deadline from `reopened_at`;
    the second time to the county hub."""

    event_type: ClassVar[str] = "yiwang.case.reopened.v1"

    evaluation_id: str
    department: Department | None  # who handles it again; None: the hub
    to_hub: bool
    rehandling: int = Field(ge=1)  # 1: first re-handling; 2: the hub's
    reopened_at: AwareDatetime
    reason: str


class EvaluationInvited(CaseEvent):
    """On oversight.invitations.v1, for intake and the platform the case came from: a
    resolved case's resident may evaluate it once with `token`, until `expires_at` (when
    the case closes without an evaluation). Only the reporter's channel hands it on."""

    event_type: ClassVar[str] = "yiwang.oversight.evaluation-invited.v1"

    token: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    expires_at: AwareDatetime
