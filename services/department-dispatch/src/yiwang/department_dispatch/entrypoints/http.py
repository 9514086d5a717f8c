"""HTTP routes: replies from departments and whistles from townships (API key auth);
a department's listing and the hub's ruling are in http_work_orders.py.

Refusals are domain exceptions, answered as problem details through REFUSALS: each
carries its stable `code`, its `status` and the `field` at fault (domain/replies.py,
domain/whistles.py, domain/rulings.py, domain/queries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.common.postgres import UnitOfWorkFactory
from yiwang.common.problems import Refusal
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.domain.credentials import bearer, department_of
from yiwang.department_dispatch.domain.queries import ListingRefused
from yiwang.department_dispatch.domain.replies import ReplyRejected
from yiwang.department_dispatch.domain.rulings import RulingRefused
from yiwang.department_dispatch.domain.whistles import WhistleRefused, check_whistler

# The fallback status; each subclass refines it with its own status, field and code
# (e.g. not_assignment_holder: 403 on work_order_id, invalid_reply: 422 on its field).
REFUSALS: Mapping[type[Exception], Refusal] = {
    ReplyRejected: Refusal(409),
    WhistleRefused: Refusal(409),
    RulingRefused: Refusal(409, field="case_id"),
    ListingRefused: Refusal(403, field="authorization"),
}

AUTH_DOC = "`Authorization: Bearer <API key>` (issued with `cli issue-key <department>`)"


class ReplyAccepted(BaseModel):
    outcome: str = "applied"
    case_id: str
    work_order_id: str
    case_state: str


class WhistleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    township_code: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")]
    departments: tuple[Department, ...] = Field(min_length=1, max_length=14)
    report_within_minutes: float = Field(default=30, gt=0, le=24 * 60)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class WhistleAccepted(BaseModel):
    whistle_id: str
    case_id: str
    departments: tuple[Department, ...]
    report_by: str


def http_router(*, uow: UnitOfWorkFactory[PostgresDispatchUnitOfWork], clock: Clock) -> APIRouter:
    router = APIRouter(tags=["departments"])

    @router.post(
        "/replies",
        response_model=ReplyAccepted,
        summary="A department replies to one of its work orders",
        description=f"Authenticate with {AUTH_DOC}. The department is the key's owner.",
    )
    async def post_reply(
        reply: DepartmentReplied, authorization: Annotated[str | None, Header()] = None
    ) -> ReplyAccepted:
        principal = await handlers.identify_api_key(uow=uow(), api_key=bearer(authorization))
        outcome = await handlers.take_department_reply(
            uow=uow(),
            reply=reply,
            department=department_of(principal),
            channel="http",
            clock=clock,
            claimed=principal,
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
        description=f"Authenticate with {AUTH_DOC}; the key must belong to township:<code>.",
    )
    async def post_whistle(
        body: WhistleRequest, authorization: Annotated[str | None, Header()] = None
    ) -> WhistleAccepted:
        principal = await handlers.identify_api_key(uow=uow(), api_key=bearer(authorization))
        check_whistler(principal, township_code=body.township_code)
        whistle = await handlers.blow_whistle(
            uow=uow(),
            case_id=body.case_id,
            township_code=body.township_code,
            departments=body.departments,
            report_within=timedelta(minutes=body.report_within_minutes),
            reason=body.reason,
            clock=clock,
        )
        return WhistleAccepted(
            whistle_id=whistle.whistle_id,
            case_id=whistle.case_id,
            departments=whistle.departments,
            report_by=whistle.report_by.isoformat(),
        )

    return router
