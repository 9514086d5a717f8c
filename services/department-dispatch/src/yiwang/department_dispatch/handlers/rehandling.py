"""Re-handling after an unsatisfied evaluation (不满意重办), on oversight's CaseReopened."""

from __future__ import annotations

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReopened
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain import rehandling
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.handlers.work_orders import (
    CONSUMER,
    cancel_work_order,
    issue_work_order,
    new_id,
)
from yiwang.department_dispatch.metrics import REHANDLINGS

log = get_logger(__name__)


async def rehandle_case(
    *, uow: DispatchUnitOfWork, envelope: Envelope[CaseReopened], clock: Clock
) -> None:
    """A new lead order to the department (or the hub), its SLA clock from the reopening."""
    reopened = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return  # a redelivery: applied the first time
        try:
            case = rehandling.check_reopen(
                await uow.dispatch.get_case(reopened.case_id, lock=True), reopened
            )
        except rehandling.ReopenNotApplied as exc:
            log.warning("reopened case not re-dispatched", case_id=reopened.case_id, why=str(exc))
            REHANDLINGS.labels(exc.reason).inc()
            return
        plan = rehandling.plan_rehandling(
            case,
            reopened,
            orders=await uow.dispatch.work_orders_of(case.case_id),
            now=clock.now(),
            new_id=new_id,
        )
        for old in plan.cancel:
            await cancel_work_order(uow=uow, order=old, reason=rehandling.REHANDLING_NOTE)
        await issue_work_order(uow=uow, routed=case.routed, order=plan.order)
        await uow.dispatch.save_case(case)
        await uow.emit(
            state_changed(
                case,
                from_state=CaseState.EVALUATED,
                to_state=CaseState.DISPATCHED,
                at=plan.order.issued_at,
                actor="department-dispatch",
                note=rehandling.REHANDLING_NOTE,
                department=plan.order.department,
            ),
            topic=CASE_LIFECYCLE,
        )
    REHANDLINGS.labels("dispatched").inc()
