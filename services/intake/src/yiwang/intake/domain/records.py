"""What intake writes and announces for an admitted submission: the case row, the sealed
reporter's row, and the events. Pure: no I/O, no topics and no randomness (the handler
seals the reporter's personal data under a new reporter id, and picks each event's
topic), so a batch builds them for the lot in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yiwang.common.case import CaseFacts, SourceRef
from yiwang.common.events import (
    CaseReceived,
    CaseStateChanged,
    DuplicateLinked,
    FieldError,
    SubmissionRejected,
)
from yiwang.common.states import CaseState
from yiwang.intake.domain.admission import case_facts, reporter_ref
from yiwang.intake.domain.case import DuplicateMatch
from yiwang.intake.domain.submission import CaseSubmission


@dataclass(frozen=True, slots=True)
class NewCase:
    case_id: uuid.UUID
    case_number: str
    channel: str
    category: str
    title: str
    description: str
    priority: str
    state: str
    lon: float | None
    lat: float | None
    crs_submitted: str | None
    lon_submitted: float | None
    lat_submitted: float | None
    address: str | None
    admin_code: str | None
    micro_grid_hint: str | None
    source_system: str | None
    external_id: str | None
    channel_details: dict[str, Any]
    media_urls: tuple[str, ...]
    attributes: dict[str, str]
    master_case_id: uuid.UUID | None
    api_key_id: str | None
    received_at: datetime
    reporter_count: int = 1  # more when later submissions of the same batch link to it
    submitted_by: str | None = None  # the platform, or the person's audit name


@dataclass(frozen=True, slots=True)
class SealedReporter:
    """A reporter's row: masked values to show, the rest sealed (bound to `reporter_id`)."""

    reporter_id: uuid.UUID
    case_id: uuid.UUID
    anonymous: bool
    name_masked: str | None
    phone_masked: str | None
    id_number_masked: str | None
    name_sealed: bytes | None
    phone_sealed: bytes | None
    id_number_sealed: bytes | None
    email_sealed: bytes | None
    created_at: datetime
    title_sealed: bytes | None = None  # the title as sent, when scrubbing changed it
    description_sealed: bytes | None = None


def case_record(
    *,
    case_id: uuid.UUID,
    number: str,
    submission: CaseSubmission,
    point: tuple[float, float] | None,
    master_case_id: uuid.UUID | None,
    api_key_id: str | None,
    reporter_count: int = 1,
    submitted_by: str | None = None,
    now: datetime,
) -> NewCase:
    location = submission.location
    details = submission.model_dump(
        mode="json",
        include={"grid_worker", "hotline", "petition", "reported_at"},
        exclude_none=True,
    )
    return NewCase(
        case_id=case_id,
        case_number=number,
        channel=submission.channel.value,
        category=submission.category,
        title=submission.title,
        description=submission.description,
        priority=submission.priority.value,
        state=(CaseState.DUPLICATE if master_case_id else CaseState.RECEIVED).value,
        lon=point[0] if point else None,
        lat=point[1] if point else None,
        crs_submitted=location.crs.value if location.has_point else None,
        lon_submitted=location.lon,
        lat_submitted=location.lat,
        address=location.address,
        admin_code=location.admin_code,
        micro_grid_hint=location.micro_grid_hint,
        source_system=submission.source.system if submission.source else None,
        external_id=submission.source.external_id if submission.source else None,
        channel_details=details,
        media_urls=submission.media_urls
        + (submission.grid_worker.photo_urls if submission.grid_worker else ()),
        attributes=dict(submission.attributes),
        master_case_id=master_case_id,
        api_key_id=api_key_id,
        received_at=now,
        reporter_count=reporter_count,
        submitted_by=submitted_by,
    )


def state_change(
    facts: CaseFacts,
    submission: CaseSubmission,
    from_state: CaseState | None,
    to_state: CaseState,
    *,
    at: datetime,
    note: str | None = None,
    actor: str | None = None,
) -> CaseStateChanged:
    """`actor`: who submitted it (a platform's or a person's audit name); by default the
    channel it came in by."""
    return CaseStateChanged(
        case_id=facts.case_id,
        case_number=facts.case_number,
        from_state=from_state,
        to_state=to_state,
        actor=actor or f"intake:{submission.channel.value}",
        note=note,
        at=at,
        category=facts.category,
        channel=submission.channel,
        priority=submission.priority,
    )


@dataclass(frozen=True, slots=True)
class Announcement:
    """What a new case announces, in this order: its "received" state change (its first
    timeline entry); the CaseReceived that sends it on to routing, unless it is a
    duplicate; then the lifecycle entries that follow (a duplicate's own state change and
    the link on its master's timeline). Which topic each goes to is the handler's call."""

    received: CaseStateChanged
    to_routing: CaseReceived | None
    lifecycle: tuple[CaseStateChanged | DuplicateLinked, ...] = ()


def announcement(
    *,
    case_id: uuid.UUID,
    case_number: str,
    submission: CaseSubmission,
    point: tuple[float, float] | None,
    reporter: SealedReporter,
    master: DuplicateMatch | None,
    reporter_count: int,
    now: datetime,
    actor: str | None = None,
) -> Announcement:
    """A new case's events. They carry the reporter's masked values and reference, never
    what was sealed, and the scrubbed title and description. `reporter_count` is the
    master's count with this reporter; `actor`: who submitted it."""
    ref = reporter_ref(
        reporter_id=reporter.reporter_id,
        name=submission.reporter.name,
        phone=submission.reporter.phone,
        anonymous=submission.reporter.anonymous,
    )
    facts = case_facts(
        case_id=case_id,
        case_number=case_number,
        submission=submission,
        point=point,
        reporter=ref,
        received_at=now,
    )
    received = state_change(facts, submission, None, CaseState.RECEIVED, at=now, actor=actor)
    if master is None:
        to_routing = CaseReceived(
            case_id=facts.case_id,
            case=facts,
            received_at=now,
            petition=submission.petition,
            grid_worker=submission.grid_worker,
        )
        return Announcement(received, to_routing)
    linked = DuplicateLinked(
        case_id=str(master.master.case_id),
        duplicate_case_id=facts.case_id,
        duplicate_case_number=facts.case_number,
        reporter=facts.reporters[0],
        reporter_count=reporter_count,
        distance_m=round(master.distance_m, 1),
    )
    duplicate = state_change(
        facts,
        submission,
        CaseState.RECEIVED,
        CaseState.DUPLICATE,
        at=now,
        note=f"duplicate of {master.master.case_number}",
    )
    return Announcement(received, None, (duplicate, linked))


def rejection(
    event_id: str, source: SourceRef | None, errors: list[tuple[str, str]]
) -> SubmissionRejected:
    return SubmissionRejected(
        source=source,
        original_event_id=event_id,
        errors=tuple(FieldError(field=f, reason=r) for f, r in errors),
    )
