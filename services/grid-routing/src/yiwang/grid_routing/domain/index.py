"""The grid index routing works on: micro-grids in an STRtree, the admin tree by code,
and each micro-grid's department units from the overlay. Built once per grid set.

It is held for the process's life, one entry per micro-grid (6,000 for a district), so
it keeps plain tuples and shares what repeats: a MicroGridRef is built when asked for,
and micro-grids with the same department units share one mapping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import overload

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree
from yiwang.common.departments import Department
from yiwang.common.events import MicroGridRef
from yiwang.grid_routing.domain.network import AdminLevel, AdminUnit, GridNetwork
from yiwang.grid_routing.domain.offices import offices_for

OUTSIDE = -1


@dataclass(frozen=True, slots=True)
class AdminPlace:
    """An admin unit with its ancestry: what a fallback by admin code knows."""

    unit: AdminUnit
    township_code: str | None
    ancestors: tuple[str, ...]  # its own code and every code above it, a handful


class GridIndex:
    def __init__(self, network: GridNetwork, *, version: int) -> None:
        self.version = version
        county = network.county
        self.county_code = county.code if county else ""
        self.county_name = county.name if county else ""
        self._admin = {u.code: u for u in network.admin_units}
        self._places = {code: self._place(unit) for code, unit in self._admin.items()}
        micro_grids = sorted(network.micro_grids, key=lambda m: m.code)
        self.micro_grid_refs = MicroGridRefs([self._ref(m) for m in micro_grids])
        self._position = {m.code: n for n, m in enumerate(micro_grids)}
        self.polygons = np.asarray([m.polygon for m in micro_grids], dtype=object)
        self._tree = STRtree(self.polygons)
        self._units = _shared_units(network)
        self._members: dict[str, list[str]] = {}
        for micro_grid in micro_grids:
            for code in self._places[micro_grid.code].ancestors:
                self._members.setdefault(code, []).append(micro_grid.code)

    def __len__(self) -> int:
        return len(self.micro_grid_refs)

    def locate_many(
        self,
        lons: Sequence[float] | npt.NDArray[np.float64],
        lats: Sequence[float] | npt.NDArray[np.float64],
    ) -> npt.NDArray[np.int64]:
        """Positions in micro_grid_refs for a batch of WGS-84 points; OUTSIDE when in none.

        A point on a shared border belongs to the micro-grid with the lowest code, so the
        answer does not depend on tree order.
        """
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, grid_idx = self._tree.query(points, predicate="intersects")
        found = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(found, point_idx, grid_idx)
        found[found == np.iinfo(np.int64).max] = OUTSIDE
        return found

    def locate(self, lon: float, lat: float) -> MicroGridRef | None:
        position = int(self.locate_many([lon], [lat])[0])
        return None if position == OUTSIDE else self.micro_grid_refs[position]

    def micro_grid(self, code: str) -> MicroGridRef | None:
        position = self._position.get(code)
        return None if position is None else self.micro_grid_refs[position]

    def place(self, code: str) -> AdminPlace | None:
        return self._places.get(code)

    def is_within(self, micro_grid_code: str, admin_code: str) -> bool:
        place = self._places.get(micro_grid_code)
        return place is not None and admin_code in place.ancestors

    def units_of(self, micro_grid_code: str) -> dict[Department, str]:
        """Every department's unit for a micro-grid: its layer's unit from the overlay, or
        (no grid layer) its office at the township or the county (domain/offices.py)."""
        return {**self._offices(micro_grid_code), **self._units.get(micro_grid_code, {})}

    def units_of_area(self, admin_code: str) -> dict[Department, str]:
        """For an admin unit: per department, the unit covering most of its micro-grids."""
        votes: dict[Department, Counter[str]] = {}
        for code in self._members.get(admin_code, []):
            for department, unit in self._units.get(code, {}).items():
                votes.setdefault(department, Counter())[unit] += 1
        overlay = {d: c.most_common(1)[0][0] for d, c in votes.items()}
        return {**self._offices(admin_code), **overlay}

    def _offices(self, code: str) -> dict[Department, str]:
        place = self._places.get(code)
        if place is None:
            return {}
        return offices_for(township_code=place.township_code, county_code=self.county_code)

    def _place(self, unit: AdminUnit) -> AdminPlace:
        codes = [unit.code]
        township = unit.code if unit.level is AdminLevel.TOWNSHIP else None
        parent = self._admin.get(unit.parent_code or "")
        while parent is not None and parent.code not in codes:
            codes.append(parent.code)
            if parent.level is AdminLevel.TOWNSHIP:
                township = parent.code
            parent = self._admin.get(parent.parent_code or "")
        return AdminPlace(unit=unit, township_code=township, ancestors=tuple(codes))

    def _ref(self, micro_grid: AdminUnit) -> _RefFields:
        chain = {AdminLevel.MICRO_GRID: micro_grid.code}
        parent = self._admin.get(micro_grid.parent_code or "")
        while parent is not None and parent.level not in chain:
            chain[parent.level] = parent.code
            parent = self._admin.get(parent.parent_code or "")
        # The network's own strings, not copies.
        return (
            micro_grid.code,
            micro_grid.name,
            chain.get(AdminLevel.GRID, ""),
            chain.get(AdminLevel.COMMUNITY, ""),
            chain.get(AdminLevel.TOWNSHIP, ""),
            chain.get(AdminLevel.COUNTY, ""),
        )


# A MicroGridRef's fields in declaration order: a tuple costs a tenth of the model.
_RefFields = tuple[str, str, str, str, str, str]


class MicroGridRefs(Sequence[MicroGridRef]):
    """The micro-grids in code order, as MicroGridRefs built when read."""

    def __init__(self, fields: list[_RefFields]) -> None:
        self._fields = fields

    def __len__(self) -> int:
        return len(self._fields)

    @overload
    def __getitem__(self, position: int) -> MicroGridRef: ...
    @overload
    def __getitem__(self, position: slice) -> list[MicroGridRef]: ...
    def __getitem__(self, position: int | slice) -> MicroGridRef | list[MicroGridRef]:
        if isinstance(position, slice):
            return [_built(f) for f in self._fields[position]]
        return _built(self._fields[position])


def _built(fields: _RefFields) -> MicroGridRef:
    code, name, grid, community, township, county = fields
    # Constructed, not validated: the network was.
    return MicroGridRef.model_construct(
        code=code,
        name=name,
        grid_code=grid,
        community_code=community,
        township_code=township,
        county_code=county,
    )


def _shared_units(network: GridNetwork) -> dict[str, Mapping[Department, str]]:
    """Each micro-grid's department units from the overlay. Neighbouring micro-grids
    mostly fall in the same units, so equal mappings are one read-only object."""
    by_micro_grid: dict[str, dict[Department, str]] = {}
    for link in network.overlay:
        by_micro_grid.setdefault(link.micro_grid_code, {})[link.department] = link.unit_code
    shared: dict[tuple[tuple[Department, str], ...], Mapping[Department, str]] = {}
    return {
        code: shared.setdefault(tuple(sorted(units.items())), MappingProxyType(units))
        for code, units in by_micro_grid.items()
    }
