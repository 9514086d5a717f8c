"""A reporter's personal data over HTTP: a hotline operator's call-back (the phone, for a
reason, audited) and the audit trail of a case's personal data for hub operators and
auditors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.clock import Clock
from yiwang.common.personal_data import PersonalDataVault
from yiwang.intake import handlers
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.entrypoints.bounds import Ref


class CallBackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, StringConstraints(min_length=4, max_length=500)]


def personal_data_router(
    *,
    authenticate: Authenticate,
    uow: Callable[[], IntakeUnitOfWork],
    vault: PersonalDataVault,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["personal data"])
    can_call_back = allow(authenticate, Role.HOTLINE_OPERATOR)
    can_audit = allow(authenticate, Role.HUB_OPERATOR, Role.AUDITOR)

    @router.post(
        "/cases/{ref}/call-back",
        summary="The reporter's phone, to call them back (回访); audited",
        openapi_extra=can_call_back.openapi,
    )
    async def call_back(
        ref: Ref, body: CallBackRequest, actor: Actor = can_call_back.actor
    ) -> JSONResponse:
        found = await handlers.call_back(
            uow=uow(), vault=vault, ref=ref, actor=actor.audit_name, reason=body.reason,
            now=clock.now(),
        )  # fmt: skip
        return JSONResponse(
            {
                "case_id": str(found.case_id),
                "case_number": found.case_number,
                "phone": found.phone,
                "name_masked": found.name_masked,
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.get(
        "/cases/{ref}/personal-data-access",
        summary="Who unsealed or erased the case's personal data, when and why",
        openapi_extra=can_audit.openapi,
    )
    async def personal_data_access(ref: Ref, _: Actor = can_audit.actor) -> JSONResponse:
        view, records = await handlers.accesses(uow=uow(), ref=ref)
        return JSONResponse(
            {
                "case_id": str(view.case_id),
                "case_number": view.case_number,
                "accesses": [
                    {
                        "at": r.at.isoformat(),
                        "actor": r.actor,
                        "action": r.action.value,
                        "reason": r.reason,
                    }
                    for r in records
                ],
            }
        )

    return router
