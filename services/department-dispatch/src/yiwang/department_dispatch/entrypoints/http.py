"""HTTP routes: replies from departments and whistles from townships; a department's
listing and the hub's ruling are in http_work_orders.py.

Who may call each route is declared on it (`yiwang.common.access.allow`): department
systems and townships by API key, people by a bearer token from the identity provider.
Bindings (the department, the township) are checked against the resource. Refusals are
domain exceptions, answered as problem details through REFUSALS: each carries its stable
`code`, its `status` and the `field` at fault (domain/replies.py, domain/whistles.py,
domain/rulings.py, domain/queries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import (
    Actor,
    Authenticate,
    Forbidden,
    Role,
    Unauthenticated,
    check_township,
)
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.common.postgres import UnitOfWorkFactory
from yiwang.common.problems import Refusal
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.domain.queries import ListingRefused
from yiwang.department_dispatch.domain.replies import ReplyRejected, Sender
from yiwang.department_dispatch.domain.rulings import RulingRefused
from yiwang.department_dispatch.domain.whistles import WhistleRefused

# The fallback status; each subclass refines it with its own status, field and code
# (e.g. not_assignment_holder: 403 on work_order_id, invalid_reply: 422 on its field).
REFUSALS: Mapping[type[Exception], Refusal] = {
    Unauthenticated: Refusal(401, field="authorization", code="unauthenticated"),
    Forbidden: Refusal(403, field="authorization", code="forbidden"),
    ReplyRejected: Refusal(409),
    WhistleRefused: Refusal(409),
    RulingRefused: Refusal(409, field="case_id"),
    ListingRefused: Refusal(403, field="authorization"),
}

DEPARTMENT_AUTH = (
    "A department's system with its API key (`Authorization: Bearer <key>` or `X-API-Key`, "
    "issued with `cli issue-key <department>`), or its staff with a bearer token from the "
    "identity provider (role department-staff, claim `department`)"
)
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def timeline_name(actor: Actor) -> str:
    """How the timeline names who acted: a person's audit name, or a machine's own name
    (a department system's code, which oversight reads as the department)."""
    return actor.audit_name if actor.person else actor.name


def sender_of(actor: Actor) -> Sender:
    department = actor.department if actor.department in set(Department) else None
    return Sender(
        department=Department(department) if department else None,
        name=timeline_name(actor),
        audit_name=actor.audit_name,
    )


class ReplyRequest(DepartmentReplied):
    """The reply contract (yiwang.dept.reply.v1), with every field bounded."""

    case_id: Id
    work_order_id: Id
    assisting_departments: tuple[Department, ...] = Field(default=(), max_length=14)


class ReplyAccepted(BaseModel):
    outcome: str = "applied"
    case_id: str
    work_order_id: str
    case_state: str


class WhistleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_id: Id
    township_code: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")]
    departments: tuple[Department, ...] = Field(min_length=1, max_length=14)
    report_within_minutes: float = Field(default=30, gt=0, le=24 * 60, allow_inf_nan=False)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class WhistleAccepted(BaseModel):
    whistle_id: str
    case_id: str
    departments: tuple[Department, ...]
    report_by: str


def http_router(
    *,
    uow: UnitOfWorkFactory[PostgresDispatchUnitOfWork],
    clock: Clock,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(tags=["departments"])
    can_reply = allow(
        authenticate, Role.DEPARTMENT_SYSTEM, Role.DEPARTMENT_STAFF, bound=("department",)
    )
    can_whistle = allow(
        authenticate, Role.TOWNSHIP_OFFICIAL, Role.TOWNSHIP_SYSTEM, bound=("township",)
    )

    @router.post(
        "/replies",
        response_model=ReplyAccepted,
        summary="A department replies to one of its work orders",
        description=f"{DEPARTMENT_AUTH}. The department is the credential's; a reply to "
        "another department's order is refused (403 not_assignment_holder) and audited.",
        openapi_extra=can_reply.openapi,
    )
    async def post_reply(reply: ReplyRequest, actor: Actor = can_reply.actor) -> ReplyAccepted:
        outcome = await handlers.take_department_reply(
            uow=uow(), reply=reply, sender=sender_of(actor), channel="http", clock=clock
        )
        if outcome.rejection is not None:
            raise outcome.rejection  # already audited; answered through REFUSALS
        return ReplyAccepted(
            case_id=reply.case_id,
            work_order_id=reply.work_order_id,
            case_state=str(outcome.case_state),
        )

    @router.post(
        "/whistles",
        response_model=WhistleAccepted,
        status_code=201,
        summary="A township blows the whistle: named departments must report by the deadline",
        description="A township official (bearer token, claim `township_code`) or the "
        "township's system (API key of `township:<code>`), for its own township only.",
        openapi_extra=can_whistle.openapi,
    )
    async def post_whistle(
        body: WhistleRequest, actor: Actor = can_whistle.actor
    ) -> WhistleAccepted:
        check_township(actor, body.township_code)
        whistle = await handlers.blow_whistle(
            uow=uow(),
            case_id=body.case_id,
            township_code=body.township_code,
            departments=body.departments,
            report_within=timedelta(minutes=body.report_within_minutes),
            reason=body.reason,
            blown_by=actor.audit_name,
            clock=clock,
        )
        return WhistleAccepted(
            whistle_id=whistle.whistle_id,
            case_id=whistle.case_id,
            departments=whistle.departments,
            report_by=whistle.report_by.isoformat(),
        )

    return router
