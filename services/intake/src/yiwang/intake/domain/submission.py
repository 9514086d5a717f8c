"""A submission from any channel, and the checks it must pass before it becomes a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from yiwang.common.case import Channel, Code, Location, Priority, SourceRef, Text
from yiwang.common.categories import CATEGORIES
from yiwang.common.envelope import field_errors
from yiwang.common.events import (
    GridWorkerReport,
    HotlineCall,
    PetitionDetails,
    ReporterDetails,
    SubmitCase,
)

Url = Annotated[str, StringConstraints(max_length=1000, pattern=r"^https?://\S+$")]


class CaseSubmission(BaseModel):
    """What every channel submits: the native API's body, and what Open311 and Kafka become."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    channel: Channel
    category: Code
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text
    priority: Priority = Priority.NORMAL
    location: Location
    reporter: ReporterDetails = ReporterDetails(anonymous=True)
    source: SourceRef | None = None
    grid_worker: GridWorkerReport | None = None
    hotline: HotlineCall | None = None
    petition: PetitionDetails | None = None
    media_urls: tuple[Url, ...] = Field(default=(), max_length=10)
    attributes: dict[Code, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    email: Annotated[str, StringConstraints(max_length=200)] | None = None
    reported_at: AwareDatetime | None = None

    @classmethod
    def from_platform(cls, command: SubmitCase) -> CaseSubmission:
        return cls(
            channel=command.channel,
            category=command.category,
            title=command.title,
            description=command.description,
            priority=command.priority,
            location=command.location,
            reporter=command.reporter,
            source=command.source,
            grid_worker=command.grid_worker,
            hotline=command.hotline,
            petition=command.petition,
            reported_at=command.reported_at,
        )


class SubmissionInvalid(ValueError):
    """A submission failed a check; `field` and `reason` are what the sender reads (the
    message is the reason: HTTP's problem details and Kafka's rejections name the field)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason)


class UnknownServiceCode(SubmissionInvalid):
    pass


class ChannelDetailsMismatch(SubmissionInvalid):
    pass


class LocationOutsideCounty(SubmissionInvalid):
    pass


class PetitionerMissing(SubmissionInvalid):
    pass


class TimeInTheFuture(SubmissionInvalid):
    pass


# The details each channel must carry, and may carry only for itself.
_CHANNEL_DETAILS: dict[str, Channel] = {
    "grid_worker": Channel.GRID_WORKER,
    "hotline": Channel.HOTLINE,
    "petition": Channel.PETITION,
}


def platform_submission(command: SubmitCase) -> CaseSubmission:
    """A platform's command as a submission; the first field it fails on, if it does."""
    try:
        return CaseSubmission.from_platform(command)
    except ValidationError as exc:
        raise SubmissionInvalid(*field_errors(exc)[0]) from None


def check_category(submission: CaseSubmission) -> None:
    if submission.category not in CATEGORIES:
        raise UnknownServiceCode("category", f"unknown category '{submission.category}'")


def check_channel_details(submission: CaseSubmission) -> None:
    for field, channel in _CHANNEL_DETAILS.items():
        present = getattr(submission, field) is not None
        if submission.channel is channel and not present:
            raise ChannelDetailsMismatch(field, f"required for channel '{channel}'")
        if present and submission.channel is not channel:
            raise ChannelDetailsMismatch(field, f"only allowed for channel '{channel}'")
    if submission.channel is Channel.PLATFORM and submission.source is None:
        raise ChannelDetailsMismatch(
            "source", "required for channel 'platform' (system and external_id)"
        )


def check_within_county(
    *, lon: float, lat: float, bbox: tuple[float, float, float, float], county: str
) -> None:
    min_lon, min_lat, max_lon, max_lat = bbox
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        raise LocationOutsideCounty(
            "location",
            f"({lon:.6f}, {lat:.6f}) in WGS-84 is outside {county}'s area "
            f"(lon {min_lon}..{max_lon}, lat {min_lat}..{max_lat})",
        )


def check_petitioner(submission: CaseSubmission) -> None:
    """A petition is made by someone: it needs a name and a way to reach them."""
    if submission.channel is not Channel.PETITION:
        return
    reporter = submission.reporter
    if reporter.anonymous or not reporter.name:
        raise PetitionerMissing("reporter.name", "a petition needs the petitioner's name")
    if not (reporter.phone or reporter.id_number):
        raise PetitionerMissing(
            "reporter.phone", "a petition needs the petitioner's phone or ID number"
        )


def check_reported_at(submission: CaseSubmission, *, now: datetime) -> None:
    if submission.reported_at is not None and submission.reported_at > now:
        raise TimeInTheFuture("reported_at", "is in the future")


def check_submission(submission: CaseSubmission, *, now: datetime) -> None:
    """Every check that needs no database, in the order a sender would fix them."""
    check_category(submission)
    check_channel_details(submission)
    check_petitioner(submission)
    check_reported_at(submission, now=now)
