"""Use cases for the roster of mediators."""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.auth import Actor
from yiwang.common.logs import get_logger
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain.ladder import DisputeType, MediationLevel
from yiwang.mediation.domain.roster import (
    Mediator,
    MediatorExists,
    check_capacity,
    check_found_mediator,
    check_roster_entry,
    synthetic_roster,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class MediatorChanges:
    name: str | None = None
    specialties: frozenset[DisputeType] | None = None
    capacity: int | None = None
    active: bool | None = None


async def register_mediator(
    *, uow: MediationUnitOfWork, actor: Actor, mediator: Mediator
) -> Mediator:
    check_roster_entry(mediator)
    mediator.changed_by = actor.audit_name
    async with uow:
        if not await uow.roster.add(mediator):
            raise MediatorExists(mediator.mediator_id)
    log.info("mediator registered", mediator_id=mediator.mediator_id, by=actor.audit_name)
    return mediator


async def update_mediator(
    *, uow: MediationUnitOfWork, actor: Actor, mediator_id: str, changes: MediatorChanges
) -> Mediator:
    async with uow:
        mediator = check_found_mediator(await uow.roster.get(mediator_id, lock=True), mediator_id)
        check_capacity(mediator, changes.capacity)
        mediator.name = changes.name or mediator.name
        if changes.specialties is not None:
            mediator.specialties = changes.specialties
        if changes.capacity is not None:
            mediator.capacity = changes.capacity
        if changes.active is not None:
            mediator.active = changes.active
        mediator.changed_by = actor.audit_name
        await uow.roster.save(mediator)
    log.info("mediator changed", mediator_id=mediator_id, by=actor.audit_name)
    return mediator


async def list_mediators(
    *, uow: MediationUnitOfWork, level: MediationLevel | None, limit: int
) -> list[Mediator]:
    async with uow:
        return await uow.roster.listing(level=level.value if level else None, limit=limit)


async def seed_roster(*, uow: MediationUnitOfWork, county_code: str, townships: int) -> int:
    """Seed the synthetic county's roster if the roster is empty; return how many added."""
    if townships == 0:
        return 0
    async with uow:
        if await uow.roster.count() > 0:
            return 0
        added = 0
        for mediator in synthetic_roster(county_code, townships):
            added += int(await uow.roster.add(mediator))
    log.info("roster seeded", county_code=county_code, mediators=added)
    return added
