"""Turning a checked submission into a case: the point, the fingerprint, the record."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from yiwang.common.case import CaseFacts, CoordinateSystem, Location, ReporterRef
from yiwang.common.geo import to_wgs84
from yiwang.common.personal_data import mask_name, mask_phone
from yiwang.intake.domain.case import DuplicateWindow
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid, check_within_county


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    county_code: str
    county_name: str
    county_bbox: tuple[float, float, float, float]
    duplicates: DuplicateWindow

    @classmethod
    def of(
        cls,
        *,
        county_code: str,
        county_name: str,
        bbox: tuple[float, float, float, float],
        radius_m: float,
        window_hours: float,
    ) -> IntakePolicy:
        return cls(
            county_code, county_name, bbox, DuplicateWindow(radius_m, timedelta(hours=window_hours))
        )


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    scope: str
    key: str


class IdempotencyKeyReused(SubmissionInvalid):
    """The same key came with a different submission: a client bug, never a silent overwrite."""


def normalised_point(location: Location, policy: IntakePolicy) -> tuple[float, float] | None:
    """The WGS-84 point of a location, checked to be inside the county; None without one."""
    if location.lon is None or location.lat is None:
        return None
    lon, lat = to_wgs84(location.lon, location.lat, location.crs)
    check_within_county(lon=lon, lat=lat, bbox=policy.county_bbox, county=policy.county_name)
    return lon, lat


def idempotency_key_for(
    submission: CaseSubmission, header_key: str | None, owner: str | None
) -> IdempotencyKey | None:
    """(source system, external id) when the sender has one, else the Idempotency-Key
    header in the scope of its `owner`: the platform (whichever of its keys sent it) or
    the person. A source system is the platform's own, so that scope is the platform's too."""
    if submission.source is not None:
        return IdempotencyKey(f"source:{submission.source.system}", submission.source.external_id)
    if header_key:
        return IdempotencyKey(f"header:{owner or 'anonymous'}", header_key)
    return None


def fingerprint(submission: CaseSubmission) -> str:
    return hashlib.sha256(submission.model_dump_json().encode()).hexdigest()


def check_same_request(*, recorded_hash: str, request_hash: str, key: IdempotencyKey) -> None:
    if recorded_hash != request_hash:
        raise IdempotencyKeyReused(
            "Idempotency-Key" if key.scope.startswith("header:") else "source.external_id",
            f"'{key.key}' was already used for a different submission",
        )


def duplicate_lock_names(
    category: str, point: tuple[float, float], window: DuplicateWindow
) -> list[str]:
    """Advisory-lock names for the grid cells the duplicate radius touches, in a fixed order.

    Two submissions that could be duplicates of each other share at least one cell, so
    they take turns; unrelated submissions do not wait for each other.
    """
    cell = max(2 * window.radius_m / 111_000, 1e-4)
    min_lon, min_lat, max_lon, max_lat = window.bounding_box(*point)
    cells = {
        (math.floor(lon / cell), math.floor(lat / cell))
        for lon in (min_lon, max_lon)
        for lat in (min_lat, max_lat)
    }
    return [f"dup:{category}:{i}:{j}" for i, j in sorted(cells)]


def reporter_ref(
    *, reporter_id: uuid.UUID, name: str | None, phone: str | None, anonymous: bool
) -> ReporterRef:
    return ReporterRef(
        reporter_id=str(reporter_id),
        name_masked=None if anonymous else mask_name(name),
        phone_masked=None if anonymous else mask_phone(phone),
        anonymous=anonymous,
    )


def case_facts(
    *,
    case_id: uuid.UUID,
    case_number: str,
    submission: CaseSubmission,
    point: tuple[float, float] | None,
    reporter: ReporterRef,
    received_at: datetime,
) -> CaseFacts:
    """`received_at`: when intake received it, the SLA clock's start (the `at` of the case's
    "received" lifecycle entry)."""
    location = submission.location
    normalised = Location(
        lon=point[0] if point else None,
        lat=point[1] if point else None,
        crs=CoordinateSystem.WGS84,
        address=location.address,
        admin_code=location.admin_code,
        micro_grid_hint=location.micro_grid_hint
        or (submission.grid_worker.micro_grid_hint if submission.grid_worker else None),
    )
    return CaseFacts(
        case_id=str(case_id),
        case_number=case_number,
        category=submission.category,
        title=submission.title,
        description=submission.description,
        priority=submission.priority,
        channel=submission.channel,
        location=normalised,
        source=submission.source,
        reporters=(reporter,),
        received_at=received_at,
    )


def since(now: datetime, window: DuplicateWindow) -> datetime:
    return now - window.window
