"""What intake takes in (SubmitCase) and announces (CaseReceived, DuplicateLinked)."""

from __future__ import annotations

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
from yiwang.common.events.base import CaseEvent, Event


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
