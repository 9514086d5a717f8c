"""HTTP routes for cases: the case with its timeline, searches, evaluations, follow-up
calls and deadline extensions. Routes decode and call a handler; nothing else."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints
from yiwang.common.case import Code
from yiwang.common.departments import Department
from yiwang.common.events import CaseEvaluated
from yiwang.common.service import Runtime
from yiwang.common.states import CaseState
from yiwang.oversight import handlers, reports
from yiwang.oversight.adapters.queries import CaseSearch, PostgresOversightReader
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork, unit_of_work
from yiwang.oversight.domain.calendar import end_of_local_day
from yiwang.oversight.entrypoints.errors import refusals
from yiwang.oversight.reports import Period


class EvaluateCase(BaseModel):
    score: int = Field(ge=1, le=5, description="satisfaction, 1 (very dissatisfied) to 5")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    evaluation_id: Code | None = Field(default=None, description="idempotency key")


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


def case_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])

    def uow() -> PostgresOversightUnitOfWork:
        return unit_of_work(runtime)

    def read() -> PostgresOversightReader:
        return PostgresOversightReader(runtime.pool)  # the pool opens after wiring

    @router.get("/{case_id}", summary="A case with its full timeline, alerts and evaluations")
    async def get_case(case_id: str) -> dict[str, Any]:
        with refusals():
            found = await reports.case_file(reader=read(), case_id=case_id, now=runtime.clock.now())
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
        with refusals():
            period = (
                reports.check_period(received_from, received_to)
                if received_from and received_to
                else None
            )
        search = CaseSearch(
            state=state.value if state else None,
            department=department.value if department else None,
            township=township,
            category=category,
            overdue=overdue,
            received_from=period.start if period else _start(received_from),
            received_to=period.end if period else _end(received_to),
            limit=limit,
            offset=offset,
        )
        total, cases = await reports.search_cases(
            reader=read(), search=search, now=runtime.clock.now()
        )
        return {"total": total, "limit": limit, "offset": offset, "cases": cases}

    @router.post("/{case_id}/evaluations", status_code=201, summary="A resident's evaluation")
    async def evaluate(case_id: str, body: EvaluateCase) -> dict[str, Any]:
        evaluation = CaseEvaluated(
            case_id=case_id,
            evaluation_id=body.evaluation_id or uuid.uuid4().hex,
            score=body.score,
            comment=body.comment,
        )
        with refusals():
            case = await handlers.evaluate_case(
                uow=uow(), evaluation=evaluation, now=runtime.clock.now()
            )
        return {"evaluation_id": evaluation.evaluation_id, "case_id": case_id, "state": case.state}

    @router.post("/{case_id}/follow-up-calls", status_code=201, summary="A follow-up call (回访)")
    async def record_call(case_id: str, body: RecordFollowUpCall) -> dict[str, Any]:
        call = FollowUpCall(
            call_id=body.call_id or uuid.uuid4().hex,
            case_id=case_id,
            called_at=body.called_at or runtime.clock.now(),
            operator=body.operator,
            reached=body.reached,
            satisfied=body.satisfied,
            note=body.note,
        )
        with refusals():
            await handlers.record_follow_up_call(uow=uow(), call=call)
        return asdict(call)

    @router.get("/{case_id}/follow-up-calls", summary="The case's follow-up calls")
    async def list_calls(case_id: str) -> list[dict[str, Any]]:
        with refusals():
            found = await reports.case_file(reader=read(), case_id=case_id, now=runtime.clock.now())
        return found.follow_up_calls

    @router.post("/{case_id}/extensions", status_code=201, summary="Extend the resolution deadline")
    async def extend(case_id: str, body: ExtendDeadline) -> dict[str, Any]:
        with refusals():
            case = await handlers.extend_resolution_deadline(
                uow=uow(),
                case_id=case_id,
                reason=body.reason,
                actor=body.actor,
                now=runtime.clock.now(),
            )
        deadlines = case.deadlines
        return {
            "case_id": case_id,
            "resolution_due": deadlines.resolution_due if deadlines else None,
        }

    return router


def _start(day: date | None) -> datetime | None:
    return Period(day, day).start if day else None


def _end(day: date | None) -> datetime | None:
    return end_of_local_day(day) if day else None
