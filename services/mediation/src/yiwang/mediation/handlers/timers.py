"""The use case behind the mediation-timers job: fire the durable timers that fell due."""

from __future__ import annotations

from functools import partial

from yiwang.common.clock import Clock
from yiwang.mediation import metrics
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.ladder import LadderPolicy
from yiwang.mediation.domain.workflow import MediationCase
from yiwang.mediation.handlers.steps import SYSTEM, advance


async def fire_due_timers(
    *, uow: MediationUnitOfWork, clock: Clock, policy: LadderPolicy, limit: int = 50
) -> int:
    """Fire due timers, each exactly once: claimed with SKIP LOCKED and marked fired in the
    transaction that writes its events. A timer for a round the case has left is a no-op
    ("stale"). How many did something: while that is not 0, more may be waiting."""
    fired: list[tuple[MediationCase, list[t.Step]]] = []
    async with uow:
        now = clock.now()
        for timer in await uow.mediations.claim_due_timers(now=now, limit=limit):
            case = await uow.mediations.get(timer.mediation_id, lock=True)
            steps: list[t.Step] = []
            if case is not None:
                what = partial(
                    t.timer_fired,
                    kind=timer.kind,
                    round=timer.round,
                    now=now,
                    time_limit=policy.time_limit,
                )
                steps = await advance(uow, case, what, now=now, by=SYSTEM)
                if steps:
                    fired.append((case, steps))
            outcome = steps[-1].step if steps else "stale"
            await uow.mediations.mark_fired(timer.timer_id, now=now, outcome=outcome)
    for case, steps in fired:
        metrics.observe(case, steps)
    return len(fired)
