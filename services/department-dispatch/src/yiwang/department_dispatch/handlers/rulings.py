"""The county hub's final ruling (终审): the named department handles the case."""

from __future__ import annotations

from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.states import check_transition
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain import rulings
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.handlers.work_orders import (
    cancel_work_order,
    issue_work_order,
    new_id,
)
from yiwang.department_dispatch.metrics import RULINGS


async def rule_on_case(
    *,
    uow: DispatchUnitOfWork,
    case_id: str,
    department: Department,
    reason: str,
    ruled_by: str,
    clock: Clock,
) -> tuple[rulings.Ruling, str]:
    """Record the ruling, withdraw the hub's lead orders and issue one to the named
    department, bound by the ruling; the ruling and the work order id. Raises
    RulingRefused unless the hub holds the case."""
    async with uow:
        case = rulings.check_ruling_allowed(
            await uow.dispatch.get_case(case_id, lock=True), case_id=case_id
        )
        plan = rulings.plan_ruling(
            case,
            department=department,
            reason=reason,
            ruled_by=ruled_by,
            orders=await uow.dispatch.work_orders_of(case_id),
            now=clock.now(),
            new_id=new_id,
        )
        check_transition(case_id=case_id, current=plan.from_state, target=case.state)
        await uow.dispatch.add_ruling(plan.ruling)
        for old in plan.cancel:
            await cancel_work_order(
                uow=uow, order=old, reason=f"hub ruling {plan.ruling.ruling_id}: {department}"
            )
        await issue_work_order(uow=uow, routed=case.routed, order=plan.order)
        await uow.dispatch.save_case(case)
        await uow.emit(rulings.ruling_made(plan.ruling), topic=CASE_LIFECYCLE)
        await uow.emit(
            state_changed(
                case,
                from_state=plan.from_state,
                to_state=case.state,
                at=plan.ruling.ruled_at,
                actor=ruled_by,
                note=f"hub ruling: {department} handles it",
                department=department,
            ),
            topic=CASE_LIFECYCLE,
        )
    RULINGS.labels(department.value).inc()
    return plan.ruling, plan.order.work_order_id
