"""What several use cases share: recording steps, the mediator's load, the rung's timer.

Every step goes to the mediation's history and to mediation.events.v1; a step that changes
the governance case's state also goes to case.lifecycle.v1 (all of them checked against
the case state machine first, check_lifecycle), and a dispute declined or withdrawn goes
back to routing on case.returned.v1, in the same transaction. Callers are inside
`async with uow:`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from yiwang.common.auth import Actor
from yiwang.common.events import MediationProgressed
from yiwang.common.topics import CASE_LIFECYCLE, CASE_RETURNED, MEDIATION_EVENTS
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.access import check_may_act
from yiwang.mediation.domain.roster import (
    check_found_mediator,
    check_mediator_serves,
    choose_mediator,
)
from yiwang.mediation.domain.workflow import (
    ACTOR,
    MediationCase,
    MediationStatus,
    check_found,
    check_lifecycle,
    left_mediation,
    lifecycle_note,
    state_changed,
)

SYSTEM = ACTOR  # the actor of steps the service takes by itself (opening, timers)


def new_id(prefix: str) -> str:
    """A new id for a mediation ("med-"), party ("pty-") or session ("ses-")."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def locked_case(
    uow: MediationUnitOfWork, mediation_id: str, *, actor: Actor
) -> MediationCase:
    """The mediation, locked for this transaction, for a person to act on: UnknownMediation
    if there is none, Forbidden if the actor may not act on it (domain.access)."""
    case = check_found(await uow.mediations.get(mediation_id, lock=True), mediation_id)
    check_may_act(actor, case)
    return case


async def advance(
    uow: MediationUnitOfWork,
    case: MediationCase,
    transition: Callable[[MediationCase], list[t.Step]],
    *,
    now: datetime,
    by: str,
) -> list[t.Step]:
    """Run a transition with its effects: release the mediator if the case left them, start
    the timer of the rung the case entered, record the steps (taken `by` an actor's audit
    name, or SYSTEM). No steps: nothing changed."""
    released, round_before = case.mediator_id, case.round
    steps = transition(case)
    if case.mediator_id != released:
        await release_mediator(uow, released)
    if case.round != round_before and case.status is MediationStatus.PENDING:
        await start_level_timer(uow, case)
    if steps:
        await record_steps(uow, case, steps, now=now, by=by)
    return steps


async def record_steps(
    uow: MediationUnitOfWork, case: MediationCase, steps: list[t.Step], *, now: datetime, by: str
) -> None:
    """Record steps taken `by` someone: a person's audit name ("person:<username>"), or
    SYSTEM for what the service does by itself."""
    targets = check_lifecycle(case, [step.step for step in steps])  # before any write
    for step, target in zip(steps, targets, strict=True):
        await uow.mediations.add_step(case.mediation_id, step, at=now, actor=by)
        await uow.emit(
            MediationProgressed(
                case_id=case.case_id,
                mediation_id=case.mediation_id,
                level=step.level.value,
                step=step.step,
                outcome=step.outcome,
            ),
            topic=MEDIATION_EVENTS,
        )
        if target is not None:
            note = lifecycle_note(case, step.step, step.outcome, by=by)
            await uow.emit(
                state_changed(case, to_state=target, at=now, note=note), topic=CASE_LIFECYCLE
            )
            case.case_state = target  # mediation's view follows what it emitted
        handed_back = left_mediation(case, step=step.step)
        if handed_back is not None:
            await uow.emit(handed_back, topic=CASE_RETURNED)
    await uow.mediations.save(case)


async def assign_mediator_to(
    uow: MediationUnitOfWork, case: MediationCase, mediator_id: str | None
) -> t.Step:
    """The named mediator (checked), or the one chosen by level, specialty and load."""
    if mediator_id is None:
        chosen = choose_mediator(
            await uow.roster.serving(case.committee),
            committee=case.committee,
            dispute_type=case.dispute_type,
        )
    else:
        chosen = check_found_mediator(await uow.roster.get(mediator_id, lock=True), mediator_id)
        check_mediator_serves(chosen, case.committee)
    if chosen.mediator_id == case.mediator_id:
        return t.assign(case, chosen.mediator_id)
    await release_mediator(uow, case.mediator_id)
    await uow.roster.adjust_load(chosen.mediator_id, +1)
    return t.assign(case, chosen.mediator_id)


async def release_mediator(uow: MediationUnitOfWork, mediator_id: str | None) -> None:
    if mediator_id is not None:
        await uow.roster.adjust_load(mediator_id, -1)


async def start_level_timer(uow: MediationUnitOfWork, case: MediationCase) -> None:
    await uow.mediations.add_timer(
        case.mediation_id, kind=t.LEVEL_EXPIRY, round=case.round, due_at=case.level_deadline
    )
