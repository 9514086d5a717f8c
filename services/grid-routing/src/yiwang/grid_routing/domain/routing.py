"""Explainable routing: place the case in the network, then apply the matrix.

Every decision carries a rule id and a reason a person can read. A case that cannot be
placed or matched goes to the county comprehensive governance centre for triage; it is
never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.common.case import CaseFacts
from yiwang.common.categories import CATEGORIES
from yiwang.common.departments import Department
from yiwang.common.events import HandlingTier, MediationOutcome, MicroGridRef
from yiwang.grid_routing.domain.matrix import MatrixEntry, ResponsibilityMatrix, SlaClass
from yiwang.grid_routing.domain.placement import Placement, Unplaced
from yiwang.grid_routing.domain.rules import HUB, Rule


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    micro_grid: MicroGridRef | None
    township_code: str | None
    department_units: dict[Department, str]
    lead_department: Department
    tier: HandlingTier
    sla_class: str
    rule_id: str
    reason: str
    assisting_departments: tuple[Department, ...] = ()
    to_mediation: bool = False
    triage: bool = False
    excluded_departments: tuple[Department, ...] = field(default=())
    attempt: int = 1


def decide_route(
    case: CaseFacts,
    *,
    placement: Placement | Unplaced,
    matrix: ResponsibilityMatrix,
    excluded: tuple[Department, ...] = (),
    attempt: int = 1,
    mediation: bool = True,
) -> RoutingDecision:
    """`mediation`: False for a dispute mediation handed back, never sent there again."""
    entry = matrix.entry(case.category)
    if entry is None:
        reason = (
            f"category '{case.category}' has no entry in responsibility matrix {matrix.version}"
        )
        return triage(
            placement,
            rule_id=Rule.UNKNOWN_CATEGORY,
            reason=reason,
            excluded=excluded,
            attempt=attempt,
        )
    if isinstance(placement, Unplaced):
        return triage(
            placement,
            rule_id=placement.rule_id,
            reason=placement.reason,
            sla_class=entry.sla_class,
            excluded=excluded,
            attempt=attempt,
        )
    candidates = [d for d in (entry.lead, *entry.assisting) if d not in excluded]
    if not candidates:
        reason = f"every department the matrix names for '{case.category}' returned the case"
        return triage(
            placement,
            rule_id=Rule.NO_DEPARTMENT_LEFT,
            reason=reason,
            sla_class=entry.sla_class,
            excluded=excluded,
            attempt=attempt,
        )
    lead, assisting = candidates[0], tuple(candidates[1:])
    tier = _tier(entry, placement, attempt)
    rule = Rule.MATRIX if lead is entry.lead else Rule.REROUTE
    to_mediation = entry.mediation and mediation
    return RoutingDecision(
        micro_grid=placement.micro_grid,
        township_code=placement.township_code,
        department_units=placement.department_units,
        lead_department=lead,
        assisting_departments=assisting,
        tier=tier,
        sla_class=entry.sla_class,
        to_mediation=to_mediation,
        rule_id=f"{rule}/{matrix.version}/{case.category}",
        reason=_explain(
            case, entry, lead, assisting, tier, placement, matrix, excluded, to_mediation
        ),
        excluded_departments=excluded,
        attempt=attempt,
    )


def decide_arbitration(
    case: CaseFacts,
    *,
    placement: Placement | Unplaced,
    matrix: ResponsibilityMatrix,
    excluded: tuple[Department, ...],
    returns: int,
    attempt: int,
) -> RoutingDecision:
    entry = matrix.entry(case.category)
    reason = (
        f"returned {returns} times (by {', '.join(excluded) or 'unknown'}); the county "
        "comprehensive governance centre arbitrates who is responsible, to stop buck-passing"
    )
    return triage(
        placement,
        rule_id=Rule.ARBITRATION,
        reason=reason,
        sla_class=entry.sla_class if entry else SlaClass.GENERAL,
        excluded=excluded,
        attempt=attempt,
    )


LEFT_MEDIATION = {
    MediationOutcome.DECLINED: "the mediation committee declined the dispute",
    MediationOutcome.WITHDRAWN: "a party withdrew from mediation",
}


def decide_after_mediation(
    case: CaseFacts,
    *,
    placement: Placement | Unplaced,
    matrix: ResponsibilityMatrix,
    outcome: MediationOutcome,
    attempt: int,
) -> RoutingDecision:
    """A dispute mediation handed back (declined or withdrawn) goes to its category's lead
    department per the matrix, with its assisting ones, and never to mediation again. No
    department returned it, so nobody is excluded. A case that can no longer be placed or
    matched goes to triage, as any other."""
    entry = matrix.entry(case.category)
    if entry is None or isinstance(placement, Unplaced):
        return decide_route(case, placement=placement, matrix=matrix, attempt=attempt)
    tier = _tier(entry, placement, attempt)
    category = CATEGORIES[case.category]
    parts = [
        f"{LEFT_MEDIATION[outcome]}; {category.name_en} ({category.name_zh}) is led by "
        f"{entry.lead} at {tier} tier under responsibility matrix {matrix.version}"
    ]
    if entry.assisting:
        parts.append(f"assisted by {', '.join(entry.assisting)}")
    if tier is not entry.tier:
        parts.append(f"raised from {entry.tier} tier")
    parts.append(f"located by {placement.how}")
    return RoutingDecision(
        micro_grid=placement.micro_grid,
        township_code=placement.township_code,
        department_units=placement.department_units,
        lead_department=entry.lead,
        assisting_departments=entry.assisting,
        tier=tier,
        sla_class=entry.sla_class,
        to_mediation=False,
        rule_id=f"{Rule.AFTER_MEDIATION}/{matrix.version}/{case.category}",
        reason="; ".join(parts),
        attempt=attempt,
    )


def triage(
    placement: Placement | Unplaced,
    *,
    rule_id: str,
    reason: str,
    sla_class: str = SlaClass.GENERAL,
    excluded: tuple[Department, ...] = (),
    attempt: int = 1,
) -> RoutingDecision:
    known = placement if isinstance(placement, Placement) else None
    return RoutingDecision(
        micro_grid=known.micro_grid if known else None,
        township_code=known.township_code if known else None,
        department_units=known.department_units if known else {},
        lead_department=HUB,
        tier=HandlingTier.COUNTY,
        sla_class=str(sla_class),
        triage=True,
        rule_id=rule_id,
        reason=f"to the county comprehensive governance centre: {reason}",
        excluded_departments=excluded,
        attempt=attempt,
    )


def _tier(entry: MatrixEntry, placement: Placement, attempt: int) -> HandlingTier:
    # A grid matter needs a grid to stay in; a returned one has already left it.
    if entry.tier is HandlingTier.GRID and (placement.micro_grid is None or attempt > 1):
        return HandlingTier.TOWNSHIP
    return entry.tier


def _explain(
    case: CaseFacts,
    entry: MatrixEntry,
    lead: Department,
    assisting: tuple[Department, ...],
    tier: HandlingTier,
    placement: Placement,
    matrix: ResponsibilityMatrix,
    excluded: tuple[Department, ...],
    to_mediation: bool,
) -> str:
    category = CATEGORIES[case.category]
    parts = [
        f"{category.name_en} ({category.name_zh}) is led by {lead} at {tier} tier "
        f"under responsibility matrix {matrix.version}"
    ]
    if excluded:
        parts.append(f"excluding {', '.join(excluded)}, which returned it")
    if assisting:
        parts.append(f"assisted by {', '.join(assisting)}")
    if tier is not entry.tier:
        parts.append(f"raised from {entry.tier} tier")
    if to_mediation:
        parts.append("a dispute, so it goes to mediation")
    elif entry.mediation:
        parts.append("a dispute mediation handed back, so not to mediation again")
    parts.append(f"located by {placement.how}")
    return "; ".join(parts)
