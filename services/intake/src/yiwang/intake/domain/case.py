"""A case as intake knows it, the case number, and duplicate detection."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from yiwang.common.geo import distance_m
from yiwang.common.states import TERMINAL_STATES, CaseState

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A case in these states no longer takes duplicates: a new report is a new problem.
NOT_OPEN = TERMINAL_STATES | {CaseState.RESOLVED, CaseState.EVALUATED, CaseState.DUPLICATE}


def case_number(*, county_code: str, received_at: datetime, sequence: int) -> str:
    """Short enough to read over the phone: YQ-20261121-00042 (the day in Asia/Shanghai)."""
    return case_numbers(county_code=county_code, received_at=received_at, sequences=[sequence])[0]


def case_numbers(*, county_code: str, received_at: datetime, sequences: Iterable[int]) -> list[str]:
    """The numbers of a batch received at one moment."""
    day = f"{county_code}-{local_day(received_at):%Y%m%d}-"
    return [f"{day}{sequence:05d}" for sequence in sequences]


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A candidate master for duplicate linking."""

    case_id: uuid.UUID
    case_number: str
    lon: float
    lat: float
    received_at: datetime
    reporter_count: int


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    master: OpenCase
    distance_m: float


@dataclass(frozen=True, slots=True)
class DuplicateWindow:
    radius_m: float
    window: timedelta

    def bounding_box(self, lon: float, lat: float) -> tuple[float, float, float, float]:
        """A lon/lat box that contains the radius, for an index-friendly first filter."""
        dlat = self.radius_m / 111_000 + 1e-6
        dlon = dlat / max(0.1, abs(math.cos(math.radians(lat))))
        return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def find_master(
    candidates: list[OpenCase], *, lon: float, lat: float, at: datetime, window: DuplicateWindow
) -> DuplicateMatch | None:
    """The nearest open case of the same category within the radius and the time window."""
    best: DuplicateMatch | None = None
    for case in candidates:
        if not (at - window.window <= case.received_at <= at):
            continue
        distance = distance_m(lon, lat, case.lon, case.lat)
        if distance <= window.radius_m and (best is None or distance < best.distance_m):
            best = DuplicateMatch(case, distance)
    return best


@dataclass
class CaseView:
    """What the native API and Open311 show of a case."""

    case_id: uuid.UUID
    case_number: str
    channel: str
    category: str
    title: str
    description: str
    priority: str
    state: str
    status_note: str | None
    lead_department: str | None
    lon: float | None
    lat: float | None
    address: str | None
    admin_code: str | None
    media_urls: list[str]
    master_case_id: uuid.UUID | None
    master_case_number: str | None
    reporter_count: int
    received_at: datetime
    updated_at: datetime
    source_system: str | None = None
    external_id: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    submitted_by: str | None = None  # the platform, or the person's audit name
    evaluation: Evaluation | None = None  # only for those who may see it


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A resolved case's one-time evaluation token, for its resident."""

    token: str
    expires_at: datetime


# Cases in these states take no evaluation any more.
EVALUATION_OVER = frozenset({CaseState.EVALUATED.value, CaseState.CLOSED.value})


def open_evaluation(
    state: str, token: str | None, expires_at: datetime | None, *, now: datetime
) -> Evaluation | None:
    """The token to show: while the case still takes an evaluation and it has not expired."""
    if token is None or expires_at is None or state in EVALUATION_OVER or expires_at <= now:
        return None
    return Evaluation(token, expires_at)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    from_state: str | None
    to_state: str
    actor: str
    note: str | None
