"""HTTP API for the roster of mediators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.service import Runtime
from yiwang.mediation import roster_handlers
from yiwang.mediation.domain.ladder import DisputeType, MediationLevel
from yiwang.mediation.domain.roster import Mediator
from yiwang.mediation.entrypoints.kafka import unit_of_work
from yiwang.mediation.entrypoints.views import mediator_json

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class NewMediator(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mediator_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    name: Name
    level: MediationLevel
    area_code: Annotated[str, StringConstraints(pattern=r"^\d{6,15}$")] = Field(
        description="admin code the mediator serves (and every code under it)"
    )
    trade: DisputeType | None = Field(default=None, description="district rung: trade committee")
    specialties: frozenset[DisputeType] = frozenset()
    capacity: int = Field(default=10, ge=1, le=500)


class MediatorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    specialties: frozenset[DisputeType] | None = None
    capacity: int | None = Field(default=None, ge=1, le=500)
    active: bool | None = None


def roster_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/mediators", tags=["roster"])

    @router.get("", summary="The roster, with each mediator's current load")
    async def listing(
        level: MediationLevel | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> list[dict[str, Any]]:
        found = await roster_handlers.list_mediators(
            uow=unit_of_work(runtime), level=level, limit=limit
        )
        return [mediator_json(m) for m in found]

    @router.post("", status_code=201, summary="Add a mediator to the roster")
    async def register(body: NewMediator) -> dict[str, Any]:
        mediator = await roster_handlers.register_mediator(
            uow=unit_of_work(runtime), mediator=Mediator(**body.model_dump())
        )
        return mediator_json(mediator)

    @router.patch("/{mediator_id}", summary="Change specialties, capacity or availability")
    async def update(mediator_id: str, body: MediatorUpdate) -> dict[str, Any]:
        mediator = await roster_handlers.update_mediator(
            uow=unit_of_work(runtime),
            mediator_id=mediator_id,
            changes=roster_handlers.MediatorChanges(**body.model_dump()),
        )
        return mediator_json(mediator)

    return router
