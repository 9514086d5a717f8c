"""Use cases for parties and the dispute's particulars, and the read side of a mediation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yiwang.common.auth import Actor
from yiwang.common.clock import Clock
from yiwang.common.personal_data import PersonalDataVault
from yiwang.mediation.adapters.repository import HistoryEntry, Session
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.access import check_may_read, visible_area
from yiwang.mediation.domain.parties import (
    Party,
    PartyDetails,
    PartyRole,
    check_found_party,
    mask,
)
from yiwang.mediation.domain.workflow import (
    MediationCase,
    MediationStatus,
    check_found,
    check_open,
)
from yiwang.mediation.handlers.steps import locked_case, new_id, record_steps


@dataclass(frozen=True)
class MediationView:
    case: MediationCase
    parties: list[Party]
    sessions: list[Session]
    history: list[HistoryEntry]


def _seal(vault: PersonalDataVault, party: Party, details: PartyDetails) -> None:
    context = party.party_id.encode()
    if details.name is not None:
        party.name_sealed = vault.seal(details.name, context=context)
    if details.phone is not None:
        party.phone_sealed = vault.seal(details.phone, context=context)
    if details.id_number is not None:
        party.id_number_sealed = vault.seal(details.id_number, context=context)
    mask(party, details)


async def add_party(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    vault: PersonalDataVault,
    mediation_id: str,
    role: PartyRole,
    details: PartyDetails,
    clock: Clock,
) -> Party:
    """Record a party; personal data is sealed, only masked values are kept in the clear."""
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_open(case)
        party = Party(party_id=new_id("pty"), mediation_id=mediation_id, role=role)
        _seal(vault, party, details)
        await uow.mediations.save_party(party)
        step = t.Step("party_added", case.level, note=role.value)
        await record_steps(uow, case, [step], now=clock.now(), by=actor.audit_name)
    return party


async def update_party(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    vault: PersonalDataVault,
    mediation_id: str,
    party_id: str,
    role: PartyRole | None,
    details: PartyDetails,
    clock: Clock,
) -> Party:
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_open(case)
        party = check_found_party(
            await uow.mediations.get_party(mediation_id, party_id),
            mediation_id=mediation_id,
            party_id=party_id,
        )
        if role is not None:
            party.role = role
        _seal(vault, party, details)
        await uow.mediations.save_party(party)
        step = t.Step("party_updated", case.level, note=party.role.value)
        await record_steps(uow, case, [step], now=clock.now(), by=actor.audit_name)
    return party


async def set_amount_in_dispute(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    mediation_id: str,
    amount: Decimal | None,
    clock: Clock,
) -> MediationCase:
    async with uow:
        case = await locked_case(uow, mediation_id, actor=actor)
        check_open(case)
        case.amount_in_dispute = amount
        note = "amount in dispute cleared" if amount is None else "amount in dispute set"
        step = t.Step("amount_set", case.level, note=note)
        await record_steps(uow, case, [step], now=clock.now(), by=actor.audit_name)
    return case


async def view_mediation(
    *, uow: MediationUnitOfWork, actor: Actor, mediation_id: str
) -> MediationView:
    """The mediation as the actor may see it (Forbidden outside a mediator's area)."""
    async with uow:
        case = check_found(await uow.mediations.get(mediation_id), mediation_id)
        check_may_read(actor, case)
        return MediationView(
            case=case,
            parties=await uow.mediations.parties(mediation_id),
            sessions=await uow.mediations.sessions(mediation_id),
            history=await uow.mediations.history(mediation_id),
        )


async def search_mediations(
    *,
    uow: MediationUnitOfWork,
    actor: Actor,
    status: MediationStatus | None,
    case_id: str | None,
    limit: int,
) -> list[MediationCase]:
    """Newest first; a mediator finds only the mediations of their committee's area."""
    area = visible_area(actor)
    async with uow:
        return await uow.mediations.search(status=status, case_id=case_id, area=area, limit=limit)
