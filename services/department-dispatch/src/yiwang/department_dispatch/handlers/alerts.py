"""Oversight's alerts: a yellow or red card escalates the case up the four-level command
(四级联动); a warning, card or stagnant case reminds (催办) the departments holding it."""

from __future__ import annotations

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import AlertKind, DepartmentRole, OversightAlertRaised
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, can_transition
from yiwang.common.topics import CASE_LIFECYCLE, department_topic
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.lifecycle import state_changed
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    escalated_round,
    next_level_up,
)
from yiwang.department_dispatch.domain.reminders import reminders_for
from yiwang.department_dispatch.handlers.work_orders import (
    CONSUMER,
    cancel_work_order,
    issue_work_order,
    new_id,
)
from yiwang.department_dispatch.metrics import REMINDERS

log = get_logger(__name__)
ESCALATING_ALERTS = frozenset({AlertKind.YELLOW_CARD, AlertKind.RED_CARD})


async def take_oversight_alert(
    *, uow: DispatchUnitOfWork, envelope: Envelope[OversightAlertRaised], clock: Clock
) -> None:
    """Escalate on a card, then remind the holders of the case's open lead orders."""
    alert = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return  # a redelivery: applied the first time
        case = await uow.dispatch.get_case(alert.case_id, lock=True)
        if case is None:
            log.warning("alert for a case dispatch does not hold", case_id=alert.case_id)
            return
        if alert.kind in ESCALATING_ALERTS:
            await _escalate(uow, case, alert, clock=clock)
        for reminder in reminders_for(alert, await uow.dispatch.work_orders_of(case.case_id)):
            await uow.emit(reminder, topic=department_topic(reminder.department))
            REMINDERS.labels(alert.kind.value).inc()


async def _escalate(
    uow: DispatchUnitOfWork, case: DispatchCase, alert: OversightAlertRaised, *, clock: Clock
) -> None:
    """A new lead order one level up, its deadline one escalation step later."""
    level = next_level_up(case.command_level, at_least=alert.command_level)
    escalatable = case.state is CaseState.ESCALATED or can_transition(
        case.state, CaseState.ESCALATED
    )
    if level is None or not escalatable:
        log.info("alert not escalated", case_id=case.case_id, state=case.state)
        return
    now = clock.now()
    leads = [
        o
        for o in await uow.dispatch.work_orders_of(case.case_id)
        if o.role is DepartmentRole.LEAD and o.whistle_id is None
    ]
    # The order being replaced (the open lead order), else the last one there was.
    latest = max([o for o in leads if o.is_open] or leads, key=lambda o: o.issued_at, default=None)
    for old in leads:
        if old.is_open:
            await cancel_work_order(
                uow=uow, order=old, reason=f"{alert.kind}: escalated to {level} command"
            )
    case.escalations += 1
    order = case.lead_order(
        department=case.lead_department,
        level=level,
        round_=escalated_round(latest.round if latest else f"a{case.attempt}", level),
        now=now,
        new_id=new_id,
        # A ruling binds the department it named at every level.
        ruling_id=latest.ruling_id if latest else None,
    )
    await issue_work_order(uow=uow, routed=case.routed, order=order)
    from_state, case.command_level = case.state, level
    if case.state is not CaseState.ESCALATED:
        case.state = CaseState.ESCALATED
        await uow.emit(
            state_changed(
                case,
                from_state=from_state,
                to_state=CaseState.ESCALATED,
                at=now,
                note=f"{alert.kind}: re-dispatched to {level} command ({alert.reason})",
            ),
            topic=CASE_LIFECYCLE,
        )
    await uow.dispatch.save_case(case)
