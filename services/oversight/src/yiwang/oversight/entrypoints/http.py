"""HTTP routes for cases: the case with its timeline, searches, evaluations, follow-up
calls and deadline extensions. Routes decode, call a handler and encode; nothing else.

`REFUSALS` says how each domain exception is answered (problem details, RFC 9457), for
these routes and the report routes in `http_reports.py` alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints
from yiwang.common.case import Code
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import CaseEvaluated
from yiwang.common.problems import Refusal
from yiwang.common.sla import ExtensionNotAllowed
from yiwang.common.states import CaseState, IllegalTransition
from yiwang.oversight.adapters.queries import CaseSearch, OversightReader
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.evaluation import CaseClosed, CaseNotFound, CaseNotResolved
from yiwang.oversight.domain.periods import BadPeriod
from yiwang.oversight.handlers import evaluations, reports

REFUSALS: dict[type[Exception], Refusal] = {
    CaseNotFound: Refusal(404, "case_id"),
    CaseClosed: Refusal(409, "case_id", code="case_closed"),
    CaseNotResolved: Refusal(409, "case_id"),
    IllegalTransition: Refusal(409, "case_id"),  # e.g. a second evaluation
    ExtensionNotAllowed: Refusal(409, "case_id"),
    BadPeriod: Refusal(422),  # it names its own field: from, to or day
}


class EvaluateCase(BaseModel):
    score: int = Field(ge=1, le=5, description="satisfaction, 1 (very dissatisfied) to 5")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    evaluation_id: Code | None = Field(default=None, description="idempotency key")
    operator: Code | None = Field(
        default=None,
        description="the hotline operator who took the evaluation on a follow-up call; "
        "the timeline's actor ('resident' when absent)",
    )


class RecordFollowUpCall(BaseModel):
    operator: Code
    reached: bool
    satisfied: bool | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    called_at: AwareDatetime | None = None
    call_id: Code | None = None


class ExtendDeadline(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    actor: Code


def case_router(
    *,
    uow: Callable[[], OversightUnitOfWork],
    reader: Callable[[], OversightReader],
    clock: Clock,
    policy: OversightPolicy,
) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])

    @router.get("/{case_id}", summary="A case with its full timeline, alerts and evaluations")
    async def get_case(case_id: str) -> dict[str, Any]:
        found = await reports.case_file(reader=reader(), case_id=case_id, now=clock.now())
        return {
            **found.case,
            "timeline": [asdict(entry) for entry in found.timeline],
            "alerts": found.alerts,
            "evaluations": found.evaluations,
            "follow_up_calls": found.follow_up_calls,
        }

    @router.get("", summary="Search cases")
    async def search_cases(
        state: CaseState | None = None,
        department: Department | None = None,
        township: Annotated[str | None, Query(max_length=64)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        overdue: bool | None = None,
        received_from: Annotated[date | None, Query(alias="from")] = None,
        received_to: Annotated[date | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        search = CaseSearch(
            state=state.value if state else None,
            department=department.value if department else None,
            township=township,
            category=category,
            overdue=overdue,
            limit=limit,
            offset=offset,
        )
        total, cases = await reports.search_cases(
            reader=reader(),
            search=search,
            received_from=received_from,
            received_to=received_to,
            now=clock.now(),
        )
        return {"total": total, "limit": limit, "offset": offset, "cases": cases}

    @router.post(
        "/{case_id}/evaluations",
        status_code=201,
        summary="A resident's evaluation: 3-5 closes the case, 1-2 reopens it (不满意重办)",
    )
    async def evaluate(case_id: str, body: EvaluateCase) -> dict[str, Any]:
        evaluation = CaseEvaluated(
            case_id=case_id,
            evaluation_id=body.evaluation_id or uuid.uuid4().hex,
            score=body.score,
            comment=body.comment,
        )
        case = await evaluations.evaluate_case(
            uow=uow(),
            evaluation=evaluation,
            now=clock.now(),
            policy=policy,
            actor=body.operator or evaluations.RESIDENT,
        )
        return {"evaluation_id": evaluation.evaluation_id, "case_id": case_id, "state": case.state}

    @router.post("/{case_id}/follow-up-calls", status_code=201, summary="A follow-up call (回访)")
    async def record_call(case_id: str, body: RecordFollowUpCall) -> dict[str, Any]:
        call = FollowUpCall(
            call_id=body.call_id or uuid.uuid4().hex,
            case_id=case_id,
            called_at=body.called_at or clock.now(),
            operator=body.operator,
            reached=body.reached,
            satisfied=body.satisfied,
            note=body.note,
        )
        await evaluations.record_follow_up_call(uow=uow(), call=call, policy=policy)
        return asdict(call)

    @router.get("/{case_id}/follow-up-calls", summary="The case's follow-up calls")
    async def list_calls(case_id: str) -> list[dict[str, Any]]:
        found = await reports.case_file(reader=reader(), case_id=case_id, now=clock.now())
        return found.follow_up_calls

    @router.post("/{case_id}/extensions", status_code=201, summary="Extend the resolution deadline")
    async def extend(case_id: str, body: ExtendDeadline) -> dict[str, Any]:
        case = await evaluations.extend_resolution_deadline(
            uow=uow(),
            case_id=case_id,
            reason=body.reason,
            actor=body.actor,
            now=clock.now(),
            policy=policy,
        )
        deadlines = case.deadlines
        return {
            "case_id": case_id,
            "resolution_due": deadlines.resolution_due if deadlines else None,
        }

    return router
