"""Reading the GeoJSON FeatureCollections that county platforms export.

Every feature carries `layer` ("admin" or a department code) and `code`; admin features
also carry `level` and `parent_code`. Features that cannot be read become problems
naming the feature, not exceptions, so one import reports everything at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapely.geometry import shape
from yiwang.common.departments import Department
from yiwang.grid_routing.domain.network import (
    ADMIN_LAYER,
    AdminLevel,
    AdminUnit,
    DepartmentUnit,
    GridNetwork,
)
from yiwang.grid_routing.domain.problems import GridProblem, ProblemKind

POLYGONAL = ("Polygon", "MultiPolygon")


def read_feature_collections(
    collections: Iterable[tuple[str, Any]],
) -> tuple[GridNetwork, list[GridProblem]]:
    """Turn (source name, FeatureCollection) pairs into a network plus what was unreadable."""
    admin: dict[str, AdminUnit] = {}
    departments: dict[tuple[Department, str], DepartmentUnit] = {}
    problems: list[GridProblem] = []
    for source, collection in collections:
        features = collection.get("features") if isinstance(collection, dict) else None
        if not isinstance(features, list):
            problems.append(_malformed(source, "not a GeoJSON FeatureCollection"))
            continue
        for number, feature in enumerate(features):
            where = f"{source}#{number}"
            try:
                unit = _read_feature(feature, where)
            except _Unreadable as exc:
                problems.append(_malformed(exc.feature_id, exc.reason))
                continue
            if isinstance(unit, AdminUnit):
                if unit.code in admin:
                    problems.append(_duplicate("admin", unit.code))
                admin[unit.code] = unit
            else:
                key = (unit.department, unit.code)
                if key in departments:
                    problems.append(_duplicate(unit.department.value, unit.code))
                departments[key] = unit
    network = GridNetwork(
        admin_units=tuple(admin.values()), department_units=tuple(departments.values())
    )
    return network, problems


class _Unreadable(Exception):
    def __init__(self, feature_id: str, reason: str) -> None:
        self.feature_id = feature_id
        self.reason = reason


def _read_feature(feature: Any, where: str) -> AdminUnit | DepartmentUnit:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        raise _Unreadable(where, "not a Feature with properties")
    props: dict[str, Any] = feature["properties"]
    code = props.get("code")
    if not isinstance(code, str) or not code.strip():
        raise _Unreadable(where, "property 'code' is missing or empty")
    feature_id = f"{code} ({where})"
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in POLYGONAL:
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        raise _Unreadable(feature_id, f"geometry must be Polygon or MultiPolygon, not {kind}")
    try:
        polygon = shape(geometry)
    except Exception as exc:  # shapely raises several types for broken coordinates
        raise _Unreadable(feature_id, f"unreadable coordinates: {exc}") from None
    name = str(props.get("name") or code)
    layer = props.get("layer")
    if layer == ADMIN_LAYER:
        try:
            level = AdminLevel(str(props.get("level")))
        except ValueError:
            known = ", ".join(AdminLevel)
            raise _Unreadable(
                feature_id, f"level {props.get('level')!r} is not one of {known}"
            ) from None
        parent = props.get("parent_code")
        households = props.get("households")
        return AdminUnit(
            code=code,
            level=level,
            name=name,
            parent_code=str(parent) if parent else None,
            polygon=polygon,
            households=households if isinstance(households, int) else None,
        )
    try:
        department = Department(str(layer))
    except ValueError:
        raise _Unreadable(
            feature_id, f"layer {layer!r} is neither 'admin' nor a department code"
        ) from None
    return DepartmentUnit(department=department, code=code, name=name, polygon=polygon)


def _malformed(feature_id: str, reason: str) -> GridProblem:
    return GridProblem(ProblemKind.MALFORMED, "file", (feature_id,), reason)


def _duplicate(layer: str, code: str) -> GridProblem:
    return GridProblem(ProblemKind.DUPLICATE, layer, (code,), "the code appears more than once")
