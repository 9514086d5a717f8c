"""Use cases for the outcome at a rung and after it: agreement, failure (up a rung),
withdrawal, referral, and the agreement's follow-up. Metrics are counted after the unit of
work committed (metrics.observe after the block)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.mediation import metrics
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.ladder import LadderPolicy, ReferralVenue
from yiwang.mediation.domain.workflow import (
    AgreedAmount,
    Agreement,
    MediationCase,
    check_accepted,
    check_agreement,
    check_at_a_rung,
    check_follow_up,
)
from yiwang.mediation.handlers.steps import advance, locked_case


async def record_agreement(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    terms: str,
    amounts: Sequence[AgreedAmount],
    performance_deadline: datetime,
    clock: Clock,
) -> MediationCase:
    """An agreement (调解协议) resolves the case; its follow-up falls due at the deadline."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        now = clock.now()
        check_agreement(case, performance_deadline=performance_deadline, now=now)
        agreement = Agreement(terms, tuple(amounts), performance_deadline, now, case.level)
        await uow.mediations.add_timer(
            mediation_id, kind=t.FOLLOW_UP, round=case.round, due_at=performance_deadline
        )
        steps = await advance(
            uow, case, lambda c: [t.record_agreement(c, agreement)], now=now, by=actor.audit_name
        )
    metrics.observe(case, steps)
    return case


async def record_failure(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    reason: str,
    clock: Clock,
    policy: LadderPolicy,
) -> MediationCase:
    """Mediation failed at this rung: the dispute moves up (or is referred from the top)."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_accepted(case)
        now = clock.now()
        steps = await advance(
            uow,
            case,
            lambda c: t.escalate(
                c, cause="failed", reason=reason, now=now, time_limit=policy.time_limit
            ),
            now=now,
            by=actor.audit_name,
        )
    metrics.observe(case, steps)
    return case


async def withdraw_dispute(
    *, uow: MediationUnitOfWork, actor: Actor, mediation_id: str, reason: str, clock: Clock
) -> MediationCase:
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_at_a_rung(case)
        now = clock.now()
        steps = await advance(
            uow,
            case,
            lambda c: [t.withdraw(c, reason=reason, now=now)],
            now=now,
            by=actor.audit_name,
        )
    metrics.observe(case, steps)
    return case


async def refer_dispute(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    venue: ReferralVenue | None,
    reason: str,
    clock: Clock,
) -> MediationCase:
    """诉调对接: hand the dispute to the court or to arbitration."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_at_a_rung(case)
        now = clock.now()
        steps = await advance(
            uow,
            case,
            lambda c: [t.refer(c, venue=venue, reason=reason, now=now)],
            now=now,
            by=actor.audit_name,
        )
    metrics.observe(case, steps)
    return case


async def record_follow_up(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    honoured: bool,
    reopen: bool,
    note: str | None,
    clock: Clock,
    policy: LadderPolicy,
) -> MediationCase:
    """Whether the agreement was honoured; if not, reopen at the same rung or refer."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        now = clock.now()
        check_follow_up(case, honoured=honoured, now=now)

        def follow_up(c: MediationCase) -> list[t.Step]:
            if honoured:
                return [t.honoured(c, note=note, now=now)]
            limit = policy.time_limit
            return t.not_honoured(c, reopen=reopen, note=note, now=now, time_limit=limit)

        steps = await advance(uow, case, follow_up, now=now, by=actor.audit_name)
    metrics.observe(case, steps)
    return case
