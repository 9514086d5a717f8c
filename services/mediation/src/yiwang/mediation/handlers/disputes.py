"""Use cases for a dispute at its rung: open it, accept or decline it, assign a mediator,
schedule a session. Metrics are counted after the unit of work committed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted
from yiwang.common.logs import get_logger
from yiwang.common.states import CaseState, check_transition
from yiwang.common.telemetry import handling
from yiwang.mediation import metrics
from yiwang.mediation.adapters.repository import Session
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.ladder import LadderPolicy, MediationLevel
from yiwang.mediation.domain.parties import from_reporter
from yiwang.mediation.domain.roster import grid_worker_mediator
from yiwang.mediation.domain.workflow import (
    MediationCase,
    check_at_a_rung,
    check_pending,
    check_session,
)
from yiwang.mediation.handlers.steps import (
    SYSTEM,
    advance,
    assign_mediator_to,
    locked_case,
    new_id,
    record_steps,
    start_level_timer,
)

log = get_logger(__name__)
CONSUMER = "mediation"


async def open_routed_disputes(
    *,
    uow: MediationUnitOfWork,
    envelopes: Sequence[Envelope[CaseRouted]],
    clock: Clock,
    policy: LadderPolicy,
) -> list[MediationCase]:
    """A poll's routing decisions, in one transaction: each dispute routed to mediation
    becomes one mediation case at its lowest rung. The others are department-dispatch's:
    they cost no transaction here."""
    disputes = [e for e in envelopes if e.payload.to_mediation]
    if not disputes:
        return []
    opened: list[MediationCase] = []
    async with uow:
        fresh = await uow.first_deliveries(consumer=CONSUMER, event_ids=[e.id for e in disputes])
        # By case, each case's decisions in their order: two polls lock cases alike.
        for envelope in sorted(disputes, key=lambda e: e.payload.case_id):
            if envelope.id in fresh:
                fresh.discard(envelope.id)  # the same event twice in a poll opens once
                with handling(envelope):  # its events carry the decision's trace
                    case = await _open_dispute(uow, envelope.payload, clock=clock, policy=policy)
                if case is not None:
                    opened.append(case)
    return opened


async def open_routed_dispute(
    *, uow: MediationUnitOfWork, envelope: Envelope[CaseRouted], clock: Clock, policy: LadderPolicy
) -> MediationCase | None:
    """One routing decision; the mediation case it opened, or None."""
    opened = await open_routed_disputes(uow=uow, envelopes=[envelope], clock=clock, policy=policy)
    return opened[0] if opened else None


async def _open_dispute(
    uow: MediationUnitOfWork, routed: CaseRouted, *, clock: Clock, policy: LadderPolicy
) -> MediationCase | None:
    if await uow.mediations.open_for_case(routed.case_id) is not None:
        log.info("dispute already in mediation", case_id=routed.case_id)
        return None
    check_transition(
        case_id=routed.case_id, current=CaseState.ROUTED, target=CaseState.IN_MEDIATION
    )
    now = clock.now()
    case, step = t.open_mediation(
        routed,
        mediation_id=new_id("med"),
        now=now,
        time_limit=policy.time_limit,
        county_code=policy.county_code,
    )
    if not await uow.mediations.add(case):
        return None  # a concurrent delivery opened it first
    for reporter in routed.case.reporters:
        if not reporter.anonymous:
            party = from_reporter(reporter, party_id=new_id("pty"), mediation_id=case.mediation_id)
            await uow.mediations.save_party(party)
    await start_level_timer(uow, case)
    steps = [step]
    if routed.grid_mediator is not None and case.level is MediationLevel.GRID:
        # 调解员: the micro-grid's worker on grid-routing's roster mediates at the grid
        # rung; registered here for the grid's committee on first sight.
        worker = routed.grid_mediator
        mediator = await uow.roster.get(worker.worker_id)
        if mediator is None:
            mediator = grid_worker_mediator(worker.worker_id, worker.name,
                                            case.committee.area_code)  # fmt: skip
            await uow.roster.add(mediator)
        if mediator.serves(case.committee):  # else the committee's own mediators
            steps.append(await assign_mediator_to(uow, case, worker.worker_id))
    await record_steps(uow, case, steps, now=now, by=SYSTEM)
    return case


async def accept_dispute(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    mediator_id: str | None,
    clock: Clock,
) -> MediationCase:
    """The rung's committee accepts (受理); a mediator is assigned in the same step."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_pending(case)
        steps = [t.accept(case)]
        if case.mediator_id is None or mediator_id is not None:
            steps.append(await assign_mediator_to(uow, case, mediator_id))
        await record_steps(uow, case, steps, now=clock.now(), by=actor.audit_name)
    return case


async def decline_dispute(
    *, uow: MediationUnitOfWork, actor: Actor, mediation_id: str, reason: str, clock: Clock
) -> MediationCase:
    """The committee does not take the dispute (不予受理): it goes back to routing, which
    sends it to its category's lead department."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_pending(case)
        now = clock.now()
        steps = await advance(
            uow,
            case,
            lambda c: [t.decline(c, reason=reason, now=now)],
            now=now,
            by=actor.audit_name,
        )
    metrics.observe(case, steps)
    return case


async def assign_mediator(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    mediator_id: str | None,
    clock: Clock,
) -> MediationCase:
    """Assign (or reassign) by level, specialty and load, or the named mediator."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_at_a_rung(case)
        step = await assign_mediator_to(uow, case, mediator_id)
        await record_steps(uow, case, [step], now=clock.now(), by=actor.audit_name)
    return case


async def schedule_session(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    scheduled_at: datetime,
    place: str,
    clock: Clock,
) -> Session:
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        now = clock.now()
        check_session(case, scheduled_at=scheduled_at, now=now)
        assert case.mediator_id is not None  # check_session refuses a case without one
        session = Session(
            session_id=new_id("ses"),
            mediation_id=mediation_id,
            level=case.level.value,
            mediator_id=case.mediator_id,
            scheduled_at=scheduled_at,
            place=place,
        )
        await uow.mediations.add_session(session)
        step = t.schedule_session(case, scheduled_at=scheduled_at)
        await record_steps(uow, case, [step], now=now, by=actor.audit_name)
    return session
