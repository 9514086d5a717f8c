"""Mediation use cases: one function each, each inside one unit of work.

Metrics are counted after the unit of work committed (metrics.observe after the block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, check_transition
from yiwang.mediation import effects, metrics
from yiwang.mediation.adapters.repository import MediationUnitOfWork, Session
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.ladder import ReferralVenue
from yiwang.mediation.domain.parties import from_reporter
from yiwang.mediation.domain.workflow import (
    AgreedAmount,
    Agreement,
    MediationCase,
    MediationStatus,
    check_accepted,
    check_agreement,
    check_at_a_rung,
    check_follow_up,
    check_found,
    check_pending,
    check_session,
)
from yiwang.mediation.progress import record_steps

log = get_logger(__name__)
CONSUMER = "mediation"


@dataclass(frozen=True)
class LadderPolicy:
    time_limit: timedelta  # per rung
    county_code: str  # for disputes with no micro-grid


async def open_routed_dispute(
    *, uow: MediationUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock, policy: LadderPolicy
) -> MediationCase | None:
    """A dispute routed to mediation becomes one mediation case at its lowest rung."""
    routed = envelope.payload
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return None
        if not routed.to_mediation:
            return None  # department-dispatch takes these
        if await uow.mediations.open_for_case(routed.case_id) is not None:
            log.info("dispute already in mediation", case_id=routed.case_id)
            return None
        check_transition(
            case_id=routed.case_id, current=CaseState.ROUTED, target=CaseState.IN_MEDIATION
        )
        now = clock.now()
        case, step = t.open_mediation(
            routed, now=now, time_limit=policy.time_limit, county_code=policy.county_code
        )
        if not await uow.mediations.add(case):
            return None  # a concurrent delivery opened it first
        for reporter in routed.case.reporters:
            if not reporter.anonymous:
                party = from_reporter(
                    reporter, party_id=t.new_id("pty"), mediation_id=case.mediation_id
                )
                await uow.mediations.save_party(party)
        await effects.start_level_timer(uow, case)
        await record_steps(uow, case, [step], now=now)
    return case


async def accept_dispute(
    *, uow: MediationUnitOfWork, mediation_id: str, mediator_id: str | None, clock: Clock
) -> MediationCase:
    """The rung's committee accepts (受理); a mediator is assigned in the same step."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        check_pending(case)
        steps = [t.accept(case)]
        if case.mediator_id is None or mediator_id is not None:
            steps.append(await effects.assign_mediator_to(uow, case, mediator_id))
        await record_steps(uow, case, steps, now=clock.now())
    return case


async def decline_dispute(
    *, uow: MediationUnitOfWork, mediation_id: str, reason: str, clock: Clock
) -> MediationCase:
    """The committee does not take the dispute (不予受理): it goes back to the hub."""
    return await _change(
        uow,
        mediation_id,
        check_pending,
        lambda c, now: [t.decline(c, reason=reason, now=now)],
        clock,
    )


async def assign_mediator(
    *, uow: MediationUnitOfWork, mediation_id: str, mediator_id: str | None, clock: Clock
) -> MediationCase:
    """Assign (or reassign) by level, specialty and load, or the named mediator."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        check_at_a_rung(case)
        step = await effects.assign_mediator_to(uow, case, mediator_id)
        await record_steps(uow, case, [step], now=clock.now())
    return case


async def schedule_session(
    *, uow: MediationUnitOfWork, mediation_id: str, scheduled_at: datetime, place: str, clock: Clock
) -> Session:
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        now = clock.now()
        check_session(case, scheduled_at=scheduled_at, now=now)
        assert case.mediator_id is not None
        session = Session(
            session_id=t.new_id("ses"),
            mediation_id=mediation_id,
            level=case.level.value,
            mediator_id=case.mediator_id,
            scheduled_at=scheduled_at,
            place=place,
        )
        await uow.mediations.add_session(session)
        await record_steps(
            uow, case, [t.schedule_session(case, scheduled_at=scheduled_at)], now=now
        )
    return session


async def record_agreement(
    *,
    uow: MediationUnitOfWork,
    mediation_id: str,
    terms: str,
    amounts: Sequence[AgreedAmount],
    performance_deadline: datetime,
    clock: Clock,
) -> MediationCase:
    """An agreement (调解协议) resolves the case; its follow-up falls due at the deadline."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        now = clock.now()
        check_agreement(case, performance_deadline=performance_deadline, now=now)
        released = case.mediator_id
        agreement = Agreement(terms, tuple(amounts), performance_deadline, now, case.level)
        steps = [t.record_agreement(case, agreement)]
        await effects.release_mediator(uow, released)
        await uow.mediations.add_timer(
            mediation_id, kind=effects.FOLLOW_UP, round=case.round, due_at=performance_deadline
        )
        await record_steps(uow, case, steps, now=now)
    metrics.observe(case, steps)
    return case


async def record_failure(
    *, uow: MediationUnitOfWork, mediation_id: str, reason: str, clock: Clock, policy: LadderPolicy
) -> MediationCase:
    """Mediation failed at this rung: the dispute moves up (or is referred from the top)."""
    return await _change(
        uow,
        mediation_id,
        check_accepted,
        lambda c, now: t.escalate(
            c, cause="failed", reason=reason, now=now, time_limit=policy.time_limit
        ),
        clock,
    )


async def withdraw_dispute(
    *, uow: MediationUnitOfWork, mediation_id: str, reason: str, clock: Clock
) -> MediationCase:
    return await _change(
        uow,
        mediation_id,
        check_at_a_rung,
        lambda c, now: [t.withdraw(c, reason=reason, now=now)],
        clock,
    )


async def refer_dispute(
    *,
    uow: MediationUnitOfWork,
    mediation_id: str,
    venue: ReferralVenue | None,
    reason: str,
    clock: Clock,
) -> MediationCase:
    """诉调对接: hand the dispute to the court or to arbitration."""
    return await _change(
        uow,
        mediation_id,
        check_at_a_rung,
        lambda c, now: [t.refer(c, venue=venue, reason=reason, now=now)],
        clock,
    )


async def record_follow_up(
    *,
    uow: MediationUnitOfWork,
    mediation_id: str,
    honoured: bool,
    reopen: bool,
    note: str | None,
    clock: Clock,
    policy: LadderPolicy,
) -> MediationCase:
    """Whether the agreement was honoured; if not, reopen at the same rung or refer."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        now = clock.now()
        check_follow_up(case, honoured=honoured, now=now)
        if honoured:
            steps = [t.honoured(case, note=note, now=now)]
        else:
            steps = t.not_honoured(
                case, reopen=reopen, note=note, now=now, time_limit=policy.time_limit
            )
            if case.status is MediationStatus.PENDING:
                await effects.start_level_timer(uow, case)
        await record_steps(uow, case, steps, now=now)
    metrics.observe(case, steps)
    return case


async def fire_due_timers(
    *, uow: MediationUnitOfWork, clock: Clock, policy: LadderPolicy, limit: int = 50
) -> int:
    """Fire due timers, each exactly once: claimed with SKIP LOCKED and marked fired in the
    transaction that writes its events. A timer for a round the case has left is a no-op."""
    fired: list[tuple[MediationCase, list[t.Step]]] = []
    async with uow:
        now = clock.now()
        for timer in await uow.mediations.claim_due_timers(now=now, limit=limit):
            case = await uow.mediations.get(timer.mediation_id, lock=True)
            steps: list[t.Step] = []
            if case is not None and case.round == timer.round:
                if timer.kind == effects.LEVEL_EXPIRY and case.status in (
                    MediationStatus.PENDING,
                    MediationStatus.ACCEPTED,
                ):
                    released = case.mediator_id
                    steps = t.escalate(
                        case,
                        cause="expired",
                        reason=f"time limit of {policy.time_limit.days} days passed",
                        now=now,
                        time_limit=policy.time_limit,
                    )
                    await effects.release_mediator(uow, released)
                    if case.status is MediationStatus.PENDING:
                        await effects.start_level_timer(uow, case)
                elif timer.kind == effects.FOLLOW_UP and case.status is MediationStatus.AGREED:
                    steps = [t.follow_up_due(case)]
            if case is not None and steps:
                await record_steps(uow, case, steps, now=now)
                fired.append((case, steps))
            await uow.mediations.mark_fired(
                timer.timer_id, now=now, outcome=steps[-1].step if steps else "stale"
            )
    for case, steps in fired:
        metrics.observe(case, steps)
    return len(fired)


async def _change(
    uow: MediationUnitOfWork,
    mediation_id: str,
    check: Callable[[MediationCase], None],
    transition: Callable[[MediationCase, datetime], list[t.Step]],
    clock: Clock,
) -> MediationCase:
    """Lock, check, transition, release the mediator if it left, start the next rung's timer."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
        check(case)
        now = clock.now()
        released, round_before = case.mediator_id, case.round
        steps = transition(case, now)
        if case.mediator_id != released:
            await effects.release_mediator(uow, released)
        if case.round != round_before and case.status is MediationStatus.PENDING:
            await effects.start_level_timer(uow, case)
        await record_steps(uow, case, steps, now=now)
    metrics.observe(case, steps)
    return case
