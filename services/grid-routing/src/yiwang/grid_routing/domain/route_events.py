"""What a routing decision announces: CaseRouted, and the case's step in its timeline."""

from __future__ import annotations

from datetime import datetime

from yiwang.common.events import CaseRouted, CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import RoutingDecision


def route_events(
    case: RoutedCase, decision: RoutingDecision, *, actor: str, at: datetime
) -> tuple[CaseRouted, CaseStateChanged]:
    """`case` as it was before this decision routed it."""
    facts = case.received.case
    routed = CaseRouted(
        case_id=case.case_id,
        case=facts,
        micro_grid=decision.micro_grid,
        department_units=decision.department_units,
        lead_department=decision.lead_department,
        assisting_departments=decision.assisting_departments,
        tier=decision.tier,
        sla_class=decision.sla_class,
        to_mediation=decision.to_mediation,
        triage=decision.triage,
        rule_id=decision.rule_id,
        reason=decision.reason,
        excluded_departments=decision.excluded_departments,
        attempt=decision.attempt,
    )
    changed = CaseStateChanged(
        case_id=case.case_id,
        case_number=facts.case_number,
        from_state=case.state,
        to_state=CaseState.ROUTED,
        actor=actor,
        note=f"{decision.rule_id}: {decision.reason}",
        at=at,
        department=decision.lead_department,
        township_code=decision.township_code,
        micro_grid=decision.micro_grid.code if decision.micro_grid else None,
        category=facts.category,
        channel=facts.channel,
        priority=facts.priority,
    )
    return routed, changed
