"""HTTP API for mediators: routes decode the request, call a handler and encode the answer.

Who may call what is declared on each route (`allow`, shown in the OpenAPI document as
`x-yiwang-access`): mediators, bound to their committee's area, and the county hub act on
mediations; auditors read them. The binding is checked by the use case against the stored
mediation (domain/access.py). Refusals are RFC 9457 problem details
(yiwang.common.problems): each domain exception is answered as REFUSALS says, once for the
whole app; routes only raise.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.clock import Clock
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import Problem, Refusal, field_problem
from yiwang.common.states import IllegalTransition
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain.ladder import LadderPolicy, ReferralVenue
from yiwang.mediation.domain.parties import PartyDetails, PartyRole, UnknownParty
from yiwang.mediation.domain.roster import (
    CapacityBelowLoad,
    MediatorAtCapacity,
    MediatorDoesNotServe,
    MediatorExists,
    NoMediatorAvailable,
    TradeNotACommittee,
    UnknownMediator,
)
from yiwang.mediation.domain.workflow import (
    AgreedAmount,
    MediationStatus,
    UnknownMediation,
    WorkflowRefused,
)
from yiwang.mediation.entrypoints.fields import (
    Identifier,
    MediationId,
    PartyId,
    PersonName,
    SaneTime,
)
from yiwang.mediation.entrypoints.views import mediation_json, party_json

# How each domain exception is answered (status, the field at fault), for every route of
# the service (the roster's too); 401 and 403 (field `authorization`) are libs/common's. WorkflowRefused's subclasses carry their own status and
# field (409 mediation_id; 422 scheduled_at or performance_deadline).
REFUSALS: dict[type[Exception], Refusal] = {
    UnknownMediation: Refusal(404, "mediation_id"),
    UnknownParty: Refusal(404, "party_id"),
    UnknownMediator: Refusal(404, "mediator_id"),
    WorkflowRefused: Refusal(409, "mediation_id"),
    MediatorDoesNotServe: Refusal(409, "mediator_id"),
    MediatorAtCapacity: Refusal(409, "mediator_id"),
    NoMediatorAvailable: Refusal(409, "mediation_id"),
    IllegalTransition: Refusal(409, "mediation_id"),
    MediatorExists: Refusal(409, "mediator_id"),
    CapacityBelowLoad: Refusal(409, "capacity"),
    TradeNotACommittee: Refusal(422, "trade"),
}

Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
CaseId = Annotated[str, Query(min_length=1, max_length=128)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Accept(Body):
    mediator_id: Identifier | None = Field(
        default=None, description="omit to assign by level, specialty and load"
    )


class Assign(Accept):
    pass


class Decline(Body):
    reason: Reason


class ScheduleSession(Body):
    scheduled_at: SaneTime
    place: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Amount(Body):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    amount: Decimal = Field(ge=0, le=Decimal("1e11"), decimal_places=2, description="yuan")


class Outcome(Body):
    kind: Literal["agreement", "failed", "withdrawn", "referred"]
    terms: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    amounts: tuple[Amount, ...] = Field(default=(), max_length=50)
    performance_deadline: SaneTime | None = None
    reason: Reason | None = None
    venue: ReferralVenue | None = Field(default=None, description="for 'referred'")


class FollowUp(Body):
    honoured: bool
    then: Literal["reopen", "refer"] = Field(
        default="refer", description="when not honoured: mediate again at the rung, or refer"
    )
    note: Reason | None = None


class NewParty(Body):
    role: PartyRole
    name: PersonName | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")] | None = None
    id_number: Annotated[str, StringConstraints(pattern=r"^\d{17}[\dXx]$")] | None = None


class PartyUpdate(NewParty):
    role: PartyRole | None = None  # type: ignore[assignment]


class Particulars(Body):
    amount_in_dispute: Decimal | None = Field(ge=0, le=Decimal("1e11"), decimal_places=2)


def missing(field: str, kind: str) -> Problem:
    return field_problem(422, field, f"'{field}' is required for {kind}")


def http_router(
    *,
    uow: Callable[[], MediationUnitOfWork],
    clock: Clock,
    policy: LadderPolicy,
    vault: PersonalDataVault,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(prefix="/mediations", tags=["mediations"])
    # Readers: a mediator (their committee's area), the hub, auditors. Actors: a mediator
    # bound to the mediation's committee, or the hub.
    can_read = allow(
        authenticate, Role.MEDIATOR, Role.HUB_OPERATOR, Role.AUDITOR, bound=("committee",)
    )
    can_act = allow(authenticate, Role.MEDIATOR, Role.HUB_OPERATOR, bound=("committee",))
    read, act = can_read.openapi, can_act.openapi

    async def view(mediation_id: str, actor: Actor) -> dict[str, Any]:
        found = await handlers.view_mediation(uow=uow(), actor=actor, mediation_id=mediation_id)
        return mediation_json(found)

    @router.get("", summary="Search mediations", openapi_extra=read)
    async def search(
        status: MediationStatus | None = None,
        case_id: CaseId | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        actor: Actor = can_read.actor,
    ) -> list[dict[str, Any]]:
        found = await handlers.search_mediations(
            uow=uow(), actor=actor, status=status, case_id=case_id, limit=limit
        )
        return [mediation_json(handlers.MediationView(c, [], [], [])) for c in found]

    @router.get(
        "/{mediation_id}",
        summary="A mediation with parties (masked), sessions, history",
        openapi_extra=read,
    )
    async def get(mediation_id: MediationId, actor: Actor = can_read.actor) -> dict[str, Any]:
        return await view(mediation_id, actor)

    @router.patch("/{mediation_id}", summary="Set the amount in dispute (yuan)", openapi_extra=act)
    async def patch(
        mediation_id: MediationId, body: Particulars, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.set_amount_in_dispute(
            uow=uow(),
            actor=actor,
            mediation_id=mediation_id,
            amount=body.amount_in_dispute,
            clock=clock,
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/accept", summary="The rung's committee accepts (受理)", openapi_extra=act
    )
    async def accept(
        mediation_id: MediationId, body: Accept, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.accept_dispute(
            uow=uow(),
            actor=actor,
            mediation_id=mediation_id,
            mediator_id=body.mediator_id,
            clock=clock,
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/decline", summary="The committee declines (不予受理)", openapi_extra=act
    )
    async def decline(
        mediation_id: MediationId, body: Decline, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.decline_dispute(
            uow=uow(), actor=actor, mediation_id=mediation_id, reason=body.reason, clock=clock
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/assign", summary="Assign or reassign a mediator", openapi_extra=act
    )
    async def assign(
        mediation_id: MediationId, body: Assign, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.assign_mediator(
            uow=uow(),
            actor=actor,
            mediation_id=mediation_id,
            mediator_id=body.mediator_id,
            clock=clock,
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/sessions",
        status_code=201,
        summary="Schedule a session",
        openapi_extra=act,
    )
    async def session(
        mediation_id: MediationId, body: ScheduleSession, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.schedule_session(
            uow=uow(),
            actor=actor,
            mediation_id=mediation_id,
            scheduled_at=body.scheduled_at,
            place=body.place,
            clock=clock,
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/outcome", summary="Record the outcome at this rung", openapi_extra=act
    )
    async def outcome(
        mediation_id: MediationId, body: Outcome, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        ids: dict[str, Any] = {
            "uow": uow(),
            "actor": actor,
            "mediation_id": mediation_id,
            "clock": clock,
        }
        if body.kind == "agreement":
            if body.terms is None:
                raise missing("terms", "an agreement")
            if body.performance_deadline is None:
                raise missing("performance_deadline", "an agreement")
            amounts = [AgreedAmount(a.description, a.amount) for a in body.amounts]
            await handlers.record_agreement(
                **ids,
                terms=body.terms,
                amounts=amounts,
                performance_deadline=body.performance_deadline,
            )
        elif body.kind == "failed":
            await handlers.record_failure(
                **ids, reason=body.reason or "no agreement reached", policy=policy
            )
        elif body.kind == "withdrawn":
            await handlers.withdraw_dispute(**ids, reason=body.reason or "withdrawn by a party")
        else:
            await handlers.refer_dispute(
                **ids, venue=body.venue, reason=body.reason or "referred by the committee"
            )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/follow-up", summary="Was the agreement honoured?", openapi_extra=act
    )
    async def follow_up(
        mediation_id: MediationId, body: FollowUp, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        await handlers.record_follow_up(
            uow=uow(),
            actor=actor,
            mediation_id=mediation_id,
            honoured=body.honoured,
            reopen=body.then == "reopen",
            note=body.note,
            clock=clock,
            policy=policy,
        )
        return await view(mediation_id, actor)

    @router.post(
        "/{mediation_id}/parties",
        status_code=201,
        summary="Add a party (sealed)",
        openapi_extra=act,
    )
    async def add_party(
        mediation_id: MediationId, body: NewParty, actor: Actor = can_act.actor
    ) -> dict[str, Any]:
        party = await handlers.add_party(
            uow=uow(),
            actor=actor,
            vault=vault,
            mediation_id=mediation_id,
            role=body.role,
            details=PartyDetails(body.name, body.phone, body.id_number),
            clock=clock,
        )
        return party_json(party)

    @router.patch(
        "/{mediation_id}/parties/{party_id}",
        summary="Correct a party's details",
        openapi_extra=act,
    )
    async def update_party(
        mediation_id: MediationId,
        party_id: PartyId,
        body: PartyUpdate,
        actor: Actor = can_act.actor,
    ) -> dict[str, Any]:
        party = await handlers.update_party(
            uow=uow(),
            actor=actor,
            vault=vault,
            mediation_id=mediation_id,
            party_id=party_id,
            role=body.role,
            details=PartyDetails(body.name, body.phone, body.id_number),
            clock=clock,
        )
        return party_json(party)

    return router
