"""Timeline entries (CaseStateChanged) for the state changes dispatch makes."""

from __future__ import annotations

from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain.model import DispatchCase

SERVICE = "department-dispatch"


def state_changed(
    case: DispatchCase,
    *,
    from_state: CaseState,
    to_state: CaseState,
    at: datetime,
    actor: str = SERVICE,
    note: str | None = None,
    department: Department | None = None,
) -> CaseStateChanged:
    routed = case.routed
    facts = routed.case
    return CaseStateChanged(
        case_id=case.case_id,
        case_number=facts.case_number,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        note=note,
        at=at,
        department=department or case.lead_department,
        township_code=case.township_code,
        micro_grid=routed.micro_grid.code if routed.micro_grid else None,
        category=facts.category,
        channel=facts.channel,
        priority=facts.priority,
    )
