"""HTTP entrypoints: replies from departments and whistles from townships (API key auth)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.common.service import Runtime
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.domain.whistles import WhistleRefused
from yiwang.department_dispatch.entrypoints.kafka import dispatch_unit_of_work

STATUS_FOR_REASON = {
    "invalid_credential": 401,
    "not_assignment_holder": 403,
    "unknown_case": 404,
    "unknown_work_order": 404,
    "invalid_reply": 422,
    "duplicate_reply": 409,
    "out_of_order": 409,
    "work_order_closed": 409,
    "illegal_for_case_state": 409,
    "case_not_open": 409,
    "not_the_case_township": 403,
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


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def http_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["departments"])

    def refuse(reason: str, detail: str) -> HTTPException:
        return HTTPException(
            status_code=STATUS_FOR_REASON.get(reason, 409),
            detail={"reason": reason, "detail": detail},
        )

    @router.post(
        "/replies",
        response_model=ReplyAccepted,
        summary="A department replies to one of its work orders",
        description=f"Authenticate with {AUTH_DOC}. The department is the key's owner.",
    )
    async def post_reply(
        reply: DepartmentReplied, authorization: Annotated[str | None, Header()] = None
    ) -> ReplyAccepted:
        principal = await handlers.identify_api_key(
            uow=dispatch_unit_of_work(runtime), api_key=bearer(authorization)
        )
        department = Department(principal) if principal in set(Department) else None
        outcome = await handlers.take_department_reply(
            uow=dispatch_unit_of_work(runtime),
            reply=reply,
            department=department,
            channel="http",
            clock=runtime.clock,
            claimed=principal,
        )
        if not outcome.applied:
            raise refuse(outcome.reason or "rejected", outcome.detail or "")
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
    ) -> Any:
        principal = await handlers.identify_api_key(
            uow=dispatch_unit_of_work(runtime), api_key=bearer(authorization)
        )
        if principal is None:
            raise refuse("invalid_credential", "a valid township API key is required")
        if principal != f"township:{body.township_code}":
            raise refuse(
                "not_the_case_township", f"the key does not belong to township:{body.township_code}"
            )
        try:
            whistle = await handlers.blow_whistle(
                uow=dispatch_unit_of_work(runtime),
                case_id=body.case_id,
                township_code=body.township_code,
                departments=body.departments,
                report_within=timedelta(minutes=body.report_within_minutes),
                reason=body.reason,
                clock=runtime.clock,
            )
        except WhistleRefused as refused:
            raise refuse(refused.reason, refused.detail) from None
        return WhistleAccepted(
            whistle_id=whistle.whistle_id,
            case_id=whistle.case_id,
            departments=whistle.departments,
            report_by=whistle.report_by.isoformat(),
        )

    return router
