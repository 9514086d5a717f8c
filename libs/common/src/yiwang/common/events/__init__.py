"""Event and command payloads, one model per CloudEvents type, grouped by who produces them.

Types carry their version (`yiwang.case.routed.v1`); within a version only additive
changes are allowed, and consumers ignore fields they do not know (Contract's
extra="ignore"), so a producer can add a field without breaking anyone. Import them from
here: `from yiwang.common.events import CaseRouted`.
"""

from __future__ import annotations

from yiwang.common.events.base import CaseEvent, Event
from yiwang.common.events.dispatch import (
    CommandLevel,
    DepartmentReplied,
    DepartmentRole,
    ReplyKind,
    RulingMade,
    WhistleAttendanceRecorded,
    WhistleBlown,
    WorkOrderCancelled,
    WorkOrderIssued,
    WorkOrderReminder,
)
from yiwang.common.events.grid import (
    GridAssistDone,
    GridAssistRequested,
    GridNoticePublished,
    GridTaskAssigned,
    GridTaskPassedUp,
    GridTaskSettled,
    WorkerRole,
)
from yiwang.common.events.intake import (
    CaseReceived,
    DuplicateLinked,
    FieldError,
    GridWorkerReport,
    HotlineCall,
    PetitionDetails,
    PetitionForm,
    ReporterDetails,
    SubmissionRejected,
    SubmitCase,
)
from yiwang.common.events.lifecycle import CaseStateChanged
from yiwang.common.events.mediation import MediationProgressed
from yiwang.common.events.oversight import (
    AlertKind,
    CaseEvaluated,
    CaseReopened,
    EvaluationInvited,
    OversightAlertRaised,
)
from yiwang.common.events.routing import (
    CaseLeftMediation,
    CaseReturned,
    CaseRouted,
    GridMediatorRef,
    HandlingTier,
    MediationOutcome,
    MicroGridRef,
)


def _all_event_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        event_type = cls.__dict__.get("event_type")
        if isinstance(event_type, str):
            found[event_type] = cls
    return found


EVENT_TYPES: dict[str, type[Event]] = _all_event_types()

__all__ = [
    "EVENT_TYPES",
    "AlertKind",
    "CaseEvaluated",
    "CaseEvent",
    "CaseLeftMediation",
    "CaseReceived",
    "CaseReopened",
    "CaseReturned",
    "CaseRouted",
    "CaseStateChanged",
    "CommandLevel",
    "DepartmentReplied",
    "DepartmentRole",
    "DuplicateLinked",
    "EvaluationInvited",
    "Event",
    "FieldError",
    "GridAssistDone",
    "GridAssistRequested",
    "GridMediatorRef",
    "GridNoticePublished",
    "GridTaskAssigned",
    "GridTaskPassedUp",
    "GridTaskSettled",
    "GridWorkerReport",
    "HandlingTier",
    "HotlineCall",
    "MediationOutcome",
    "MediationProgressed",
    "MicroGridRef",
    "OversightAlertRaised",
    "PetitionDetails",
    "PetitionForm",
    "ReplyKind",
    "ReporterDetails",
    "RulingMade",
    "SubmissionRejected",
    "SubmitCase",
    "WhistleAttendanceRecorded",
    "WhistleBlown",
    "WorkOrderCancelled",
    "WorkOrderIssued",
    "WorkOrderReminder",
    "WorkerRole",
]
