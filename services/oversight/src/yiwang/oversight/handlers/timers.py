"""Firing the SLA timers that are due: warnings and yellow and red cards up the command."""

from __future__ import annotations

from datetime import datetime

from yiwang.common.events import OversightAlertRaised
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.escalation import STAGE_ALERTS, describe_timer, timers_for
from yiwang.oversight.handlers.projection import load_case, raise_alert


async def fire_due_timers(
    *, uow: OversightUnitOfWork, now: datetime, replica: str, limit: int = 100
) -> int:
    """Fire the timers due by `now`, each exactly once; return how many raised an alert.

    A timer is claimed with FOR UPDATE SKIP LOCKED and marked fired in the transaction
    that writes its alert to the outbox: another replica skips it, and after a crash
    either both happened or neither did.
    """
    raised = 0
    async with uow:
        repository = uow.repository
        for due in await repository.claim_due_timers(now=now, limit=limit):
            spec = due.spec
            if not await repository.try_lock_case(spec.case_id):
                continue  # the case is being projected: its timers may change; next tick
            case = await load_case(repository, spec.case_id)
            still_wanted = case is not None and spec.key in {t.key for t in timers_for(case)}
            if case is None or not still_wanted:
                await repository.mark_fired(due.id, now=now, by=replica, outcome="stopped")
                continue
            kind, level = STAGE_ALERTS[spec.stage]
            department = case.lead_department
            alert = OversightAlertRaised(
                case_id=spec.case_id,
                alert_id=f"timer:{due.id}",
                kind=kind,
                command_level=level,
                department=department,
                deadline=spec.deadline,
                reason=describe_timer(spec, department=department.value if department else None),
            )
            await repository.mark_fired(due.id, now=now, by=replica, outcome="alerted")
            raised += int(await raise_alert(uow, alert, case=case, now=now))
    return raised
