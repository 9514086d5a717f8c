"""Recording workflow steps: history, MediationProgressed, and lifecycle entries.

Every step goes to mediation.events.v1; a step that changes the governance case's state
also goes to case.lifecycle.v1, after check_transition, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import CaseStateChanged, MediationProgressed
from yiwang.common.states import CaseState, check_transition
from yiwang.common.topics import CASE_LIFECYCLE, MEDIATION_EVENTS
from yiwang.mediation.adapters.repository import MediationUnitOfWork
from yiwang.mediation.domain.transitions import Step
from yiwang.mediation.domain.workflow import MediationCase, lifecycle_target

SERVICE = "mediation"


def state_changed(
    case: MediationCase, *, to_state: CaseState, at: datetime, note: str | None
) -> CaseStateChanged:
    routed, facts = case.routed, case.routed.case
    return CaseStateChanged(
        case_id=case.case_id,
        case_number=facts.case_number,
        from_state=case.case_state,
        to_state=to_state,
        actor=SERVICE,
        note=note,
        at=at,
        # People's mediation committees work under the justice bureau's guidance.
        department=Department.JUSTICE,
        township_code=routed.micro_grid.township_code if routed.micro_grid else None,
        micro_grid=routed.micro_grid.code if routed.micro_grid else None,
        category=facts.category,
        channel=facts.channel,
        priority=facts.priority,
    )


async def record_steps(
    uow: MediationUnitOfWork, case: MediationCase, steps: list[Step], *, now: datetime
) -> None:
    for step in steps:
        await uow.mediations.add_step(case.mediation_id, step, at=now)
        await uow.emit(
            MediationProgressed(
                case_id=case.case_id,
                mediation_id=case.mediation_id,
                level=step.level.value,
                step=step.step,
                outcome=step.outcome,
            ),
            topic=MEDIATION_EVENTS,
        )
        target = lifecycle_target(case.case_state, step.step)
        if target is not None:
            check_transition(case_id=case.case_id, current=case.case_state, target=target)
            # System text only: mediators' free-text reasons may name people, events may not.
            note = f"mediation {step.step} at {case.committee.code}" + (
                f" ({step.outcome})" if step.outcome and step.outcome != step.step else ""
            )
            await uow.emit(
                state_changed(case, to_state=target, at=now, note=note),
                topic=CASE_LIFECYCLE,
            )
            case.case_state = target
    await uow.mediations.save(case)
