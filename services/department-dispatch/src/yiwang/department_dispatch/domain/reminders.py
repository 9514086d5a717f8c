"""Reminders (催办): oversight's alerts passed on to the departments holding a case. Pure."""

from __future__ import annotations

from yiwang.common.events import (
    AlertKind,
    DepartmentRole,
    OversightAlertRaised,
    WorkOrderReminder,
)
from yiwang.department_dispatch.domain.model import WorkOrder

# Alerts about a department's handling. Bounced and stranded cases are the hub's
# business, not a department's: no reminder.
REMINDED_ALERTS = frozenset(
    {AlertKind.WARNING, AlertKind.YELLOW_CARD, AlertKind.RED_CARD, AlertKind.STAGNANT}
)


def reminders_for(alert: OversightAlertRaised, orders: list[WorkOrder]) -> list[WorkOrderReminder]:
    """One reminder per open lead order of the case (not a whistle summons)."""
    if alert.kind not in REMINDED_ALERTS:
        return []
    return [
        WorkOrderReminder(
            case_id=order.case_id,
            work_order_id=order.work_order_id,
            department=order.department,
            alert_id=alert.alert_id,
            kind=alert.kind.value,
            command_level=alert.command_level,
            deadline=order.deadline,
            reason=alert.reason,
        )
        for order in orders
        if order.is_open and order.role is DepartmentRole.LEAD and order.whistle_id is None
    ]
