"""Effects several use cases share: mediator load and the rung's durable timer."""

from __future__ import annotations

from yiwang.mediation.adapters.repository import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.roster import (
    check_found_mediator,
    check_mediator_serves,
    choose_mediator,
)
from yiwang.mediation.domain.workflow import MediationCase

LEVEL_EXPIRY, FOLLOW_UP = "level_expiry", "follow_up"


async def assign_mediator_to(
    uow: MediationUnitOfWork, case: MediationCase, mediator_id: str | None
) -> t.Step:
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
        case.mediation_id, kind=LEVEL_EXPIRY, round=case.round, due_at=case.level_deadline
    )
