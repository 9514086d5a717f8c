"""HTTP API for the roster of mediators (its refusals are in http.py's REFUSALS).

Mediators, the hub, administrators and auditors read the roster; only administrators
register and change mediators, and each entry keeps who last did (`changed_by`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain.ladder import DisputeType, MediationLevel
from yiwang.mediation.domain.roster import Mediator
from yiwang.mediation.entrypoints.fields import Identifier, MediatorPathId, PersonName
from yiwang.mediation.entrypoints.views import mediator_json


class NewMediator(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mediator_id: Identifier
    name: PersonName
    level: MediationLevel
    area_code: Annotated[str, StringConstraints(pattern=r"^\d{6,15}$")] = Field(
        description="admin code the mediator serves (and every code under it)"
    )
    trade: DisputeType | None = Field(default=None, description="district rung: trade committee")
    specialties: frozenset[DisputeType] = frozenset()
    capacity: int = Field(default=10, ge=1, le=500)


class MediatorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName | None = None
    specialties: frozenset[DisputeType] | None = None
    capacity: int | None = Field(default=None, ge=1, le=500)
    active: bool | None = None


def roster_router(
    *, uow: Callable[[], MediationUnitOfWork], authenticate: Authenticate
) -> APIRouter:
    router = APIRouter(prefix="/mediators", tags=["roster"])
    can_read = allow(
        authenticate, Role.MEDIATOR, Role.HUB_OPERATOR, Role.ADMINISTRATOR, Role.AUDITOR
    )
    can_manage = allow(authenticate, Role.ADMINISTRATOR)

    @router.get(
        "",
        summary="The roster, with each mediator's current load",
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def listing(
        level: MediationLevel | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        found = await handlers.list_mediators(uow=uow(), level=level, limit=limit)
        return [mediator_json(m) for m in found]

    @router.post(
        "",
        status_code=201,
        summary="Add a mediator to the roster",
        openapi_extra=can_manage.openapi,
    )
    async def register(body: NewMediator, actor: Actor = can_manage.actor) -> dict[str, Any]:
        mediator = await handlers.register_mediator(
            uow=uow(), actor=actor, mediator=Mediator(**body.model_dump())
        )
        return mediator_json(mediator)

    @router.patch(
        "/{mediator_id}",
        summary="Change specialties, capacity or availability",
        openapi_extra=can_manage.openapi,
    )
    async def update(
        mediator_id: MediatorPathId, body: MediatorUpdate, actor: Actor = can_manage.actor
    ) -> dict[str, Any]:
        mediator = await handlers.update_mediator(
            uow=uow(),
            actor=actor,
            mediator_id=mediator_id,
            changes=handlers.MediatorChanges(**body.model_dump()),
        )
        return mediator_json(mediator)

    return router
