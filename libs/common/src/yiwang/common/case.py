"""The case contract: what every service agrees a reported problem looks like.

Personal data is kept apart: events carry a ReporterRef (masked values and a
reference into intake's encrypted store), never a Reporter.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from yiwang.common.categories import CATEGORIES


class CoordinateSystem(StrEnum):
    WGS84 = "WGS-84"
    CGCS2000 = "CGCS2000"  # the national datum; within centimetres of WGS-84
    GCJ02 = "GCJ-02"  # what Chinese map apps (Amap, Tencent) report
    BD09 = "BD-09"  # Baidu maps


class Priority(StrEnum):
    EMERGENCY = "emergency"  # risk to life or property: dispatch within 1 h
    URGENT = "urgent"  # utilities, extreme weather: 2 h
    NORMAL = "normal"  # general: feedback within 7 days
    COMPLEX = "complex"  # complex matters: 15 days


class Channel(StrEnum):
    GRID_WORKER = "grid_worker"
    HOTLINE = "hotline"
    PETITION = "petition"
    PORTAL = "portal"
    PLATFORM = "platform"
    OPEN311 = "open311"


class Contract(BaseModel):
    """Base for contract models: immutable, and tolerant of fields added later in v1."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Location(Contract):
    """Where the problem is: a point with its coordinate system, or an address/admin code."""

    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CoordinateSystem = CoordinateSystem.WGS84
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    admin_code: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")] | None = None
    micro_grid_hint: Code | None = None

    @model_validator(mode="after")
    def _check_enough_to_locate(self) -> Self:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat must be given together")
        if self.lon is None and not (self.address or self.admin_code or self.micro_grid_hint):
            raise ValueError(
                "a location needs coordinates (lon, lat), an address, an admin_code "
                "or a micro_grid_hint"
            )
        return self

    @property
    def has_point(self) -> bool:
        return self.lon is not None and self.lat is not None


class SourceRef(Contract):
    """Which system a case came from, and its id there (the idempotency key for platforms)."""

    system: Code
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ReporterRef(Contract):
    """A reporter as events see them: masked, with a reference into intake's store."""

    reporter_id: str
    name_masked: str | None = None
    phone_masked: str | None = None
    anonymous: bool = False


class CaseFacts(Contract):
    """The facts of a case that travel with it through the network."""

    case_id: str
    case_number: str
    category: str
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text
    priority: Priority = Priority.NORMAL
    channel: Channel
    location: Location
    source: SourceRef | None = None
    reporters: tuple[ReporterRef, ...] = ()
    # When intake received it: the SLA clock starts here (set by intake since v1.1).
    received_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_category_known(self) -> Self:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category '{self.category}'")
        return self
