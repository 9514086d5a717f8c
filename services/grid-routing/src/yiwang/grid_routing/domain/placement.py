"""Placing a case in the network: by point, micro-grid hint or admin code, in that order
of precision; disagreeing hints are not guessed between."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yiwang.common.case import CaseFacts, Location
from yiwang.common.departments import Department
from yiwang.common.events import MicroGridRef
from yiwang.common.geo import to_wgs84
from yiwang.grid_routing.domain.index import OUTSIDE, GridIndex
from yiwang.grid_routing.domain.network import AdminLevel
from yiwang.grid_routing.domain.rules import Rule


@dataclass(frozen=True, slots=True)
class Placement:
    """Where in the network a case is, as far as its location allows."""

    micro_grid: MicroGridRef | None
    township_code: str | None
    department_units: dict[Department, str]
    how: str  # for the reason: "point (WGS-84) in micro-grid ..."


@dataclass(frozen=True, slots=True)
class Unplaced:
    rule_id: str
    reason: str


def place_case(
    case: CaseFacts, *, index: GridIndex, grid_worker_hint: str | None = None
) -> Placement | Unplaced:
    [placement] = place_cases([(case, grid_worker_hint)], index=index)
    return placement


def place_cases(
    cases: Sequence[tuple[CaseFacts, str | None]], *, index: GridIndex
) -> list[Placement | Unplaced]:
    """Place many cases (each with its grid worker's hint); the points of all of them are
    looked up in one STRtree query, far cheaper than one query per point."""
    points = [_wgs84(case.location) for case, _ in cases]
    located = [(n, point) for n, point in enumerate(points) if point is not None]
    found: dict[int, MicroGridRef | None] = {}
    if located:
        positions = index.locate_many(
            [lon for _, (lon, _) in located], [lat for _, (_, lat) in located]
        ).tolist()
        refs = index.micro_grid_refs
        for (n, _), position in zip(located, positions, strict=True):
            found[n] = None if position == OUTSIDE else refs[position]
    return [
        _place(case, hint, point, found.get(n), index=index)
        for n, ((case, hint), point) in enumerate(zip(cases, points, strict=True))
    ]


def _wgs84(location: Location) -> tuple[float, float] | None:
    if location.lon is None or location.lat is None:
        return None
    return to_wgs84(location.lon, location.lat, location.crs)


def _place(
    case: CaseFacts,
    grid_worker_hint: str | None,
    point: tuple[float, float] | None,
    found: MicroGridRef | None,
    *,
    index: GridIndex,
) -> Placement | Unplaced:
    """One case, its point (WGS-84) already looked up: `found` is where it lies."""
    location = case.location
    hints = sorted({h for h in (location.micro_grid_hint, grid_worker_hint) if h})
    if len(hints) > 1:
        return Unplaced(
            Rule.CONFLICTING_HINTS, f"the micro-grid hints disagree: {' vs '.join(hints)}"
        )
    hint = hints[0] if hints else None
    admin_code = location.admin_code
    if point is not None:
        lon, lat = point
        if found is None:
            return Unplaced(
                Rule.OUTSIDE_GRID,
                (
                    f"the point ({lon:.6f}, {lat:.6f}) WGS-84 (reported in {location.crs}) lies "
                    f"outside every micro-grid of {index.county_name} (grid set v{index.version})"
                ),
            )
        if hint and hint != found.code:
            return Unplaced(
                Rule.CONFLICTING_HINTS,
                (f"the point lies in micro-grid {found.code}, but the micro-grid hint says {hint}"),
            )
        how = f"its point ({lon:.6f}, {lat:.6f}) WGS-84"
        return _conflict_with_admin(found, admin_code, index) or _at(found, how, index)
    if hint:
        found = index.micro_grid(hint)
        if found is None:
            return Unplaced(
                Rule.UNKNOWN_PLACE,
                f"the micro-grid hint {hint} is not in grid set v{index.version}",
            )
        return _conflict_with_admin(found, admin_code, index) or _at(
            found, f"micro-grid hint {hint}", index
        )
    if admin_code:
        place = index.place(admin_code)
        if place is None:
            return Unplaced(
                Rule.UNKNOWN_PLACE,
                f"the admin code {admin_code} is not in grid set v{index.version}",
            )
        if place.unit.level is AdminLevel.MICRO_GRID:
            found = index.micro_grid(admin_code)
            if found is not None:
                return _at(found, f"admin code {admin_code}", index)
        return Placement(
            None,
            place.township_code,
            index.units_of_area(admin_code),
            f"admin code {admin_code} ({place.unit.level} {place.unit.name}); no micro-grid known",
        )
    return Unplaced(
        Rule.UNLOCATED,
        "the case has no coordinates, admin code or micro-grid hint, only an address",
    )


def _at(found: MicroGridRef, how: str, index: GridIndex) -> Placement:
    return Placement(
        found,
        found.township_code,
        index.units_of(found.code),
        f"{how} in micro-grid {found.code} ({found.name})",
    )


def _conflict_with_admin(
    found: MicroGridRef, admin_code: str | None, index: GridIndex
) -> Unplaced | None:
    if admin_code is None or index.is_within(found.code, admin_code):
        return None
    return Unplaced(
        Rule.CONFLICTING_HINTS,
        (f"micro-grid {found.code} is not within the admin code {admin_code} the case gives"),
    )
