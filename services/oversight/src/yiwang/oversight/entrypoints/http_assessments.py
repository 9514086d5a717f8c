"""HTTP routes for 一考双评: a township official's monthly assessment of a department that
served the township, and the month's assessments for those who read reports. The
evaluation score that combines them with residents' satisfaction is a column of the
department KPIs and a ranking measure (`http_reports.py`, `by=evaluation_score`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.case import Code
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.access import READING_ROLES
from yiwang.oversight.domain.assessment import MAX_SCORE, MONTH_PATTERN, parse_month
from yiwang.oversight.handlers import assessments

Month = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]


class AssessDepartment(BaseModel):
    township_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the township assessing: the official's own (token claim township_code)"
    )
    department: Department
    month: Month = Field(description="the month assessed, YYYY-MM; not one still to come")
    score: int = Field(ge=0, le=MAX_SCORE, description="0 (worst) to 100")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    assessment_id: Code | None = Field(default=None, description="the caller's id for it")


def assessment_router(
    *,
    uow: Callable[[], OversightUnitOfWork],
    reader: Callable[[], OversightReader],
    clock: Clock,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(prefix="/assessments", tags=["一考双评"])
    can_assess = allow(authenticate, Role.TOWNSHIP_OFFICIAL, bound=("township",))
    can_read = allow(authenticate, *READING_ROLES, bound=("township", "department"))

    @router.post(
        "",
        status_code=201,
        summary="A township assesses a department that served it this month (一考双评); one "
        "per township, department and month",
        openapi_extra=can_assess.openapi,
    )
    async def assess(body: AssessDepartment, actor: Actor = can_assess.actor) -> dict[str, Any]:
        kept = await assessments.assess_department(
            uow=uow(),
            actor=actor,
            assessment_id=body.assessment_id or uuid.uuid4().hex,
            township_code=body.township_code,
            department=body.department.value,
            month=parse_month(body.month),
            score=body.score,
            comment=body.comment,
            now=clock.now(),
        )
        return {**asdict(kept), "month": f"{kept.month:%Y-%m}"}

    @router.get(
        "",
        summary="The month's township assessments (a township's or department's own, for "
        "their officials and staff)",
        openapi_extra=can_read.openapi,
    )
    async def list_month(
        month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
        actor: Actor = can_read.actor,
    ) -> dict[str, Any]:
        found = await assessments.list_assessments(
            reader=reader(), month=parse_month(month), actor=actor
        )
        return {
            "month": month,
            "assessments": [{**asdict(a), "month": f"{a.month:%Y-%m}"} for a in found],
        }

    return router
