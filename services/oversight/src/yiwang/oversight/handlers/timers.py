"""Firing the timers that are due: warnings and yellow and red cards up the command,
stagnant and stranded cases to the county hub, and closing resolved cases nobody
evaluated (未评价)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.events import OversightAlertRaised
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.oversight.adapters.repository import DueTimer
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.closing import CLOSED_WITHOUT_EVALUATION, lifecycle_change
from yiwang.oversight.domain.escalation import (
    STAGE_ALERTS,
    OversightPolicy,
    Stage,
    describe_timer,
    timers_for,
)
from yiwang.oversight.domain.projection import CaseProjection
from yiwang.oversight.handlers.projection import load_case, project, raise_alert


@dataclass(slots=True)
class Fired:
    """What a sweep's timers did."""

    alerted: int = 0  # raised an alert
    closed: int = 0  # closed a resolved case nobody evaluated
    stopped: int = 0  # no longer wanted: their clock stopped meanwhile

    @property
    def acted(self) -> int:
        return self.alerted + self.closed


async def fire_due_timers(
    *,
    uow: OversightUnitOfWork,
    now: datetime,
    replica: str,
    policy: OversightPolicy,
    limit: int = 100,
) -> Fired:
    """Fire the timers due by `now`, each exactly once.

    A timer is claimed with FOR UPDATE SKIP LOCKED and marked fired in the transaction
    that writes its alert or state change to the outbox: another replica skips it, and
    after a crash either both happened or neither did.
    """
    fired = Fired()
    async with uow:
        repository = uow.repository
        for due in await repository.claim_due_timers(now=now, limit=limit):
            spec = due.spec
            if not await repository.try_lock_case(spec.case_id):
                continue  # the case is being projected: its timers may change; next tick
            case = await load_case(repository, spec.case_id)
            wanted = {t.key for t in timers_for(case, policy=policy)} if case else set()
            if case is None or spec.key not in wanted:
                await repository.mark_fired(due.id, now=now, by=replica, outcome="stopped")
                fired.stopped += 1
                continue
            if spec.stage is Stage.CLOSE:
                await _close_unevaluated(uow, due, case, now=now, replica=replica, policy=policy)
                fired.closed += 1
                continue
            kind, level = STAGE_ALERTS[spec.stage]
            alert = OversightAlertRaised(
                case_id=spec.case_id,
                alert_id=f"timer:{due.id}",
                kind=kind,
                command_level=level,
                department=case.lead_department,
                deadline=spec.deadline,
                reason=describe_timer(spec, case=case),
            )
            await repository.mark_fired(due.id, now=now, by=replica, outcome="alerted")
            fired.alerted += int(await raise_alert(uow, alert, case=case, now=now))
    return fired


async def _close_unevaluated(
    uow: OversightUnitOfWork,
    due: DueTimer,
    case: CaseProjection,
    *,
    now: datetime,
    replica: str,
    policy: OversightPolicy,
) -> None:
    """Resolved→closed without an evaluation: it never counts as satisfied."""
    # Marked first: projecting drops the case's unfired timers it no longer needs.
    await uow.repository.mark_fired(due.id, now=now, by=replica, outcome="closed")
    closed = lifecycle_change(
        case, to=CaseState.CLOSED, actor="oversight", note=CLOSED_WITHOUT_EVALUATION, at=now
    )
    emitted = await uow.emit(closed, topic=CASE_LIFECYCLE)
    entry = entries.from_state_change(closed, event_id=emitted.id)
    await project(uow, entry, now=now, policy=policy)
