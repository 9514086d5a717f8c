"""Event and command payloads, one model per CloudEvents type.

Types carry their version (`yiwang.case.routed.v1`); within a version only additive
changes are allowed, and consumers ignore fields they do not know (Contract's
extra="ignore"), so a producer can add a field without breaking anyone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints
from yiwang.common.case import (
    CaseFacts,
    Channel,
    Code,
    Contract,
    Location,
    Priority,
    ReporterRef,
    SourceRef,
    Text,
)
from yiwang.common.departments import Department
from yiwang.common.states import CaseState


class Event(Contract):
    """A payload on the wire. `event_type` is the CloudEvents `type`."""

    event_type: ClassVar[str]

    @property
    def subject(self) -> str:
        """CloudEvents subject and Kafka key: keeps one case's events in order."""
        raise NotImplementedError


class CaseEvent(Event):
    case_id: str

    @property
    def subject(self) -> str:
        return self.case_id


# --- intake ---------------------------------------------------------------------------


class PetitionForm(StrEnum):
    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    ONLINE = "online"  # 网上信访


class ReporterDetails(Contract):
    """Personal data as submitted. Only intake reads it; it never leaves intake's store."""

    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")] | None = None
    id_number: Annotated[str, StringConstraints(pattern=r"^\d{17}[\dXx]$")] | None = None
    anonymous: bool = False


class GridWorkerReport(Contract):
    worker_id: Code
    micro_grid_hint: Code | None = None
    photo_urls: tuple[Annotated[str, StringConstraints(max_length=1000)], ...] = ()


class HotlineCall(Contract):
    call_id: Code
    operator_id: Code


class PetitionDetails(Contract):
    form: PetitionForm
    petitioner_count: int = Field(default=1, ge=1, le=10_000)


class SubmitCase(Event):
    """Command on intake.submissions.v1: a county platform asks intake to open a case."""

    event_type: ClassVar[str] = "yiwang.intake.submit-case.v1"

    source: SourceRef
    channel: Channel = Channel.PLATFORM
    category: Code
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text
    priority: Priority = Priority.NORMAL
    location: Location
    reporter: ReporterDetails = ReporterDetails(anonymous=True)
    grid_worker: GridWorkerReport | None = None
    hotline: HotlineCall | None = None
    petition: PetitionDetails | None = None
    reported_at: AwareDatetime | None = None

    @property
    def subject(self) -> str:
        return f"{self.source.system}:{self.source.external_id}"


class FieldError(Contract):
    field: str
    reason: str


class SubmissionRejected(Event):
    event_type: ClassVar[str] = "yiwang.intake.submission-rejected.v1"

    source: SourceRef | None
    original_event_id: str | None = None
    errors: tuple[FieldError, ...]

    @property
    def subject(self) -> str:
        return f"{self.source.system}:{self.source.external_id}" if self.source else "unknown"


class CaseReceived(CaseEvent):
    event_type: ClassVar[str] = "yiwang.case.received.v1"

    case: CaseFacts
    received_at: AwareDatetime
    petition: PetitionDetails | None = None
    grid_worker: GridWorkerReport | None = None


class DuplicateLinked(CaseEvent):
    """On case.lifecycle.v1, keyed by the master case (case_id): a submission was linked to
    it as a duplicate instead of being dispatched again, and its reporter counted."""

    event_type: ClassVar[str] = "yiwang.case.duplicate-linked.v1"

    duplicate_case_id: str
    duplicate_case_number: str
    reporter: ReporterRef
    reporter_count: int = Field(ge=2)
    distance_m: float = Field(ge=0)


# --- grid-routing ---------------------------------------------------------------------


class HandlingTier(StrEnum):
    GRID = "grid"  # 小事不出网格: the grid worker handles it
    TOWNSHIP = "township"
    COUNTY = "county"


class MicroGridRef(Contract):
    code: str
    name: str
    grid_code: str
    community_code: str
    township_code: str
    county_code: str


class CaseRouted(CaseEvent):
    event_type: ClassVar[str] = "yiwang.case.routed.v1"

    case: CaseFacts
    micro_grid: MicroGridRef | None
    department_units: dict[Department, str] = Field(default_factory=dict)
    lead_department: Department
    assisting_departments: tuple[Department, ...] = ()
    tier: HandlingTier
    sla_class: str
    to_mediation: bool = False
    triage: bool = False  # sent to the county hub for manual triage or arbitration
    rule_id: str
    reason: str
    excluded_departments: tuple[Department, ...] = ()
    attempt: int = Field(default=1, ge=1)


class CaseReturned(CaseEvent):
    event_type: ClassVar[str] = "yiwang.case.returned.v1"

    department: Department
    reason_code: Code
    reason: Text
    return_count: int = Field(ge=1)


# --- department-dispatch --------------------------------------------------------------


class DepartmentRole(StrEnum):
    LEAD = "lead"
    ASSISTING = "assisting"


class CommandLevel(StrEnum):
    """The four-level command (四级联动), lowest first."""

    COMMUNITY = "community"
    TOWNSHIP = "township"
    COUNTY = "county"
    CITY = "city"


class WorkOrderIssued(CaseEvent):
    """On dept.<code>.cases.v1: what a department consumes."""

    event_type: ClassVar[str] = "yiwang.dept.work-order.v1"

    work_order_id: str
    case_number: str
    department: Department
    role: DepartmentRole
    command_level: CommandLevel = CommandLevel.TOWNSHIP
    category: str
    title: str
    description: str
    priority: Priority
    location: Location
    micro_grid: MicroGridRef | None
    department_unit: str | None
    deadline: AwareDatetime
    reporter: ReporterRef | None = None
    whistle_id: str | None = None  # set when the order is a whistle summons (吹哨报到)


class WorkOrderCancelled(CaseEvent):
    """On dept.<code>.cases.v1: a work order was withdrawn (re-routed, escalated, returned)."""

    event_type: ClassVar[str] = "yiwang.dept.work-order-cancelled.v1"

    work_order_id: str
    department: Department
    reason: str


class ReplyKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"  # 签收
    PROGRESS = "progress"
    RETURN = "return"  # 退单
    RESOLVE = "resolve"  # 办结
    REQUEST_ASSISTANCE = "request_assistance"


class DepartmentReplied(CaseEvent):
    """On dept.replies.v1. The department's identity comes from its credential, not a field."""

    event_type: ClassVar[str] = "yiwang.dept.reply.v1"

    work_order_id: str
    reply_id: Code
    kind: ReplyKind
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    reason_code: Code | None = None
    result: Annotated[str, StringConstraints(max_length=2000)] | None = None
    evidence_urls: tuple[Annotated[str, StringConstraints(max_length=1000)], ...] = ()
    assisting_departments: tuple[Department, ...] = ()


class WhistleBlown(CaseEvent):
    event_type: ClassVar[str] = "yiwang.dispatch.whistle-blown.v1"

    whistle_id: str
    township_code: str
    departments: tuple[Department, ...]
    report_by: AwareDatetime
    reason: Text


class WhistleAttendanceRecorded(CaseEvent):
    event_type: ClassVar[str] = "yiwang.dispatch.whistle-attendance.v1"

    whistle_id: str
    township_code: str
    department: Department
    reported_at: AwareDatetime | None
    on_time: bool


# --- mediation ------------------------------------------------------------------------


class MediationProgressed(CaseEvent):
    event_type: ClassVar[str] = "yiwang.mediation.progressed.v1"

    mediation_id: str
    level: str
    step: str
    outcome: str | None = None


# --- every service: the one timeline --------------------------------------------------


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


# --- oversight ------------------------------------------------------------------------


class AlertKind(StrEnum):
    WARNING = "warning"  # a deadline is approaching
    YELLOW_CARD = "yellow_card"  # overdue
    RED_CARD = "red_card"  # still overdue after the yellow card
    BOUNCED = "bounced"  # two or more returns
    STAGNANT = "stagnant"


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
