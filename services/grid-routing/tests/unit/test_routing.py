from __future__ import annotations

from typing import Any

import shapely
from yiwang.common.case import CaseFacts, Channel, CoordinateSystem, Location
from yiwang.common.departments import Department
from yiwang.common.events import HandlingTier
from yiwang.common.geo import wgs84_to_gcj02
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import place_case
from yiwang.grid_routing.domain.routing import decide_route
from yiwang.grid_routing.domain.rules import Rule

HUB = Department.COMPREHENSIVE_GOVERNANCE


def facts(category: str = "sanitation", **location: Any) -> CaseFacts:
    return CaseFacts(
        case_id="c1",
        case_number="YQ-1",
        category=category,
        title="t",
        description="d",
        channel=Channel.PORTAL,
        location=Location(**location),
    )


def inside(index: GridIndex, position: int = 9) -> tuple[float, float]:
    point = shapely.point_on_surface(index.polygons[position])
    return float(point.x), float(point.y)


def route(case: CaseFacts, index: GridIndex, matrix: ResponsibilityMatrix, **kw: Any) -> Any:
    return decide_route(case, placement=place_case(case, index=index, **kw), matrix=matrix)


def test_a_point_routes_by_the_matrix_and_names_every_unit(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    lon, lat = inside(tiny_index)
    decision = route(facts("food-safety", lon=lon, lat=lat), tiny_index, matrix)
    micro_grid = tiny_index.micro_grid_refs[9]
    assert decision.micro_grid == micro_grid
    assert decision.township_code == micro_grid.township_code
    assert decision.department_units == tiny_index.units_of(micro_grid.code)
    assert set(decision.department_units) == set(Department)
    assert (decision.lead_department, decision.assisting_departments) == (
        Department.MARKET_SUPERVISION,
        (Department.HEALTH,),
    )
    assert (decision.tier, decision.sla_class, decision.triage) == (
        HandlingTier.TOWNSHIP,
        "urgent",
        False,
    )
    assert decision.rule_id == "matrix/2026.1/food-safety"
    assert decision.reason.startswith("Food safety (食品安全) is led by market-supervision")
    assert micro_grid.code in decision.reason


def test_a_gcj02_point_is_converted_before_the_lookup(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    lon, lat = wgs84_to_gcj02(*inside(tiny_index))
    case = facts(lon=lon, lat=lat, crs=CoordinateSystem.GCJ02)
    assert route(case, tiny_index, matrix).micro_grid == tiny_index.micro_grid_refs[9]


def test_small_matters_stay_in_the_grid_and_disputes_go_to_mediation(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    lon, lat = inside(tiny_index)
    assert (
        route(facts("sanitation", lon=lon, lat=lat), tiny_index, matrix).tier is HandlingTier.GRID
    )
    dispute = route(facts("neighbour-dispute", lon=lon, lat=lat), tiny_index, matrix)
    assert dispute.to_mediation
    assert dispute.lead_department is Department.JUSTICE


def test_a_point_outside_every_grid_goes_to_triage_with_the_reason(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    decision = route(facts(lon=112.0, lat=37.0), tiny_index, matrix)
    assert (decision.triage, decision.lead_department, decision.tier) == (
        True,
        HUB,
        HandlingTier.COUNTY,
    )
    assert decision.rule_id == Rule.OUTSIDE_GRID
    assert decision.micro_grid is None
    assert "(112.000000, 37.000000)" in decision.reason
    assert "outside every micro-grid" in decision.reason


def test_fallback_by_micro_grid_hint_and_by_admin_code(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    micro_grid = tiny_index.micro_grid_refs[3]
    by_hint = route(facts(address="x", micro_grid_hint=micro_grid.code), tiny_index, matrix)
    assert by_hint.micro_grid == micro_grid
    assert not by_hint.triage
    assert f"micro-grid hint {micro_grid.code}" in by_hint.reason
    by_worker = route(facts(address="x"), tiny_index, matrix, grid_worker_hint=micro_grid.code)
    assert by_worker.micro_grid == micro_grid
    by_admin = route(facts(admin_code=micro_grid.community_code), tiny_index, matrix)
    assert by_admin.micro_grid is None
    assert not by_admin.triage
    assert by_admin.township_code == micro_grid.township_code
    assert set(by_admin.department_units) == set(Department)
    assert by_admin.tier is HandlingTier.TOWNSHIP  # a grid matter without a grid is raised
    assert "raised from grid tier" in by_admin.reason


def test_conflicting_hints_go_to_triage_with_the_reason(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    lon, lat = inside(tiny_index)
    other = tiny_index.micro_grid_refs[30].code
    decision = route(facts(lon=lon, lat=lat, micro_grid_hint=other), tiny_index, matrix)
    assert decision.triage
    assert decision.rule_id == Rule.CONFLICTING_HINTS
    assert f"the micro-grid hint says {other}" in decision.reason
    hint = tiny_index.micro_grid_refs[0].code
    two = route(
        facts(address="x", micro_grid_hint=hint), tiny_index, matrix, grid_worker_hint=other
    )
    assert two.rule_id == Rule.CONFLICTING_HINTS
    wrong_township = route(facts(lon=lon, lat=lat, admin_code="140399002"), tiny_index, matrix)
    if tiny_index.micro_grid_refs[9].township_code != "140399002":
        assert wrong_township.rule_id == Rule.CONFLICTING_HINTS


def test_unknown_codes_and_address_only_cases_go_to_triage(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    assert route(facts(admin_code="999999"), tiny_index, matrix).rule_id == Rule.UNKNOWN_PLACE
    assert route(facts(micro_grid_hint="nope"), tiny_index, matrix).rule_id == Rule.UNKNOWN_PLACE
    unlocated = route(facts(address="阳泉市城区某街"), tiny_index, matrix)
    assert unlocated.triage
    assert unlocated.rule_id == Rule.UNLOCATED


def test_a_category_without_a_matrix_entry_goes_to_triage(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    partial = matrix.model_copy(
        update={"entries": tuple(e for e in matrix.entries if e.category != "noise")}
    )
    lon, lat = inside(tiny_index)
    decision = route(facts("noise", lon=lon, lat=lat), tiny_index, partial)
    assert decision.triage
    assert decision.rule_id == Rule.UNKNOWN_CATEGORY
    assert decision.micro_grid == tiny_index.micro_grid_refs[9]  # placement is kept for triage
    assert "category 'noise' has no entry" in decision.reason


def test_excluded_departments_hand_the_lead_to_the_next_in_line(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    lon, lat = inside(tiny_index)
    case = facts("gas-leak", lon=lon, lat=lat)
    placement = place_case(case, index=tiny_index)
    excluded = (Department.EMERGENCY_MANAGEMENT,)
    decision = decide_route(case, placement=placement, matrix=matrix, excluded=excluded, attempt=2)
    assert decision.lead_department is Department.UTILITIES
    assert decision.assisting_departments == (Department.URBAN_MANAGEMENT,)
    assert decision.rule_id == "reroute/2026.1/gas-leak"
    assert "excluding emergency-management, which returned it" in decision.reason
    none_left = decide_route(
        facts("price-fraud", lon=lon, lat=lat),
        placement=placement,
        matrix=matrix,
        excluded=(Department.MARKET_SUPERVISION,),
    )
    assert none_left.triage
    assert none_left.rule_id == Rule.NO_DEPARTMENT_LEFT
