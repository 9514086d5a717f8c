"""HTTP routes for cases: the case with its timeline, searches, evaluations, follow-up
calls and deadline extensions. Routes decode, call a handler and encode; nothing else.

Who may call each route is declared on it (`yiwang.common.access.allow`, shown in the
OpenAPI document as `x-yiwang-access`); the township and department bindings are checked
by the handlers against the case (`domain/access.py`). A resident evaluates with the
case's one-time evaluation token and no credential (`evaluator`).

`REFUSALS` says how each domain exception is answered (problem details, RFC 9457), for
these routes and the others beside them (`http_reports.py`, `http_assessments.py`, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from yiwang.common.access import ACCESS_KEY, allow
from yiwang.common.auth import (
    Actor,
    Authenticate,
    Forbidden,
    Role,
    Unauthenticated,
    check_role,
    presented_credential,
)
from yiwang.common.bounds import AwareMoment
from yiwang.common.case import Code
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import CaseEvaluated
from yiwang.common.problems import Refusal
from yiwang.common.sla import ExtensionNotAllowed
from yiwang.common.states import CaseState, IllegalTransition
from yiwang.oversight.adapters.peers import PeerFailed
from yiwang.oversight.adapters.queries import CaseSearch, OversightReader
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.access import READING_ROLES
from yiwang.oversight.domain.assessment import AssessmentExists, BadMonth, NotServedHere
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.evaluation import CaseClosed, CaseNotFound, CaseNotResolved
from yiwang.oversight.domain.invitation import EvaluationTokenRefused
from yiwang.oversight.domain.periods import FIRST_DAY, LAST_DAY, BadPeriod
from yiwang.oversight.domain.public_ledger import NotPublishable
from yiwang.oversight.handlers import evaluations, reports

REFUSALS: dict[type[Exception], Refusal] = {
    Unauthenticated: Refusal(401, "authorization", code="unauthenticated"),
    Forbidden: Refusal(403, "authorization", code="forbidden"),
    EvaluationTokenRefused: Refusal(403, "token", code="evaluation_token_refused"),
    CaseNotFound: Refusal(404, "case_id"),
    CaseClosed: Refusal(409, "case_id", code="case_closed"),
    CaseNotResolved: Refusal(409, "case_id"),
    IllegalTransition: Refusal(409, "case_id"),  # e.g. a second evaluation
    ExtensionNotAllowed: Refusal(409, "case_id"),
    BadPeriod: Refusal(422),  # it names its own field: from, to or day
    AssessmentExists: Refusal(409, "department", code="assessment_exists"),
    NotServedHere: Refusal(422, "department", code="department_not_serving_township"),
    BadMonth: Refusal(422, "month"),
    NotPublishable: Refusal(422),  # it names its own field
    PeerFailed: Refusal(502, code="reconciliation_peer_failed"),  # names the service
}


CaseId = Annotated[str, Path(min_length=1, max_length=128)]
Moment = AwareMoment
SPAN = f"{FIRST_DAY} to {LAST_DAY}"
ReceivedFrom = Annotated[
    date | None, Query(alias="from", description=f"first local date of receipt, {SPAN}")
]
ReceivedTo = Annotated[
    date | None, Query(alias="to", description=f"last local date of receipt, {SPAN}")
]


class EvaluateCase(BaseModel):
    score: int = Field(ge=1, le=5, description="satisfaction, 1 (very dissatisfied) to 5")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    evaluation_id: Code | None = Field(default=None, description="idempotency key")
    token: Annotated[str, StringConstraints(min_length=16, max_length=128)] | None = Field(
        default=None,
        description="the one-time evaluation token the reporter was given when the case was "
        "resolved; required without a credential",
    )


class RecordFollowUpCall(BaseModel):
    reached: bool
    satisfied: bool | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    called_at: Moment | None = None
    call_id: Code | None = None


class ExtendDeadline(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


async def _carries_token(request: Request) -> bool:
    try:
        body = await request.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("token"))


def evaluator(authenticate: Authenticate) -> Any:
    """A hotline operator by bearer token, or (None) a resident with no credential and the
    evaluation token in the body, which the handler checks; anyone else is refused."""

    async def who(request: Request) -> Actor | None:
        if presented_credential(request):
            return check_role(await authenticate(request), Role.HOTLINE_OPERATOR)
        if not await _carries_token(request):
            raise Unauthenticated(
                "a resident evaluates with the case's evaluation token (body field 'token'); "
                "a hotline operator with a bearer token from the identity provider"
            )
        return None

    return Depends(who)


def case_router(
    *,
    uow: Callable[[], OversightUnitOfWork],
    reader: Callable[[], OversightReader],
    clock: Clock,
    policy: OversightPolicy,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])
    can_read = allow(authenticate, *READING_ROLES, bound=("township", "department"))
    can_call = allow(authenticate, Role.HOTLINE_OPERATOR)
    can_extend = allow(authenticate, Role.HUB_OPERATOR)
    may_evaluate = evaluator(authenticate)
    can_evaluate = {
        ACCESS_KEY: {
            **can_call.openapi[ACCESS_KEY],
            "resident_token": "or no credential, with the case's evaluation token ('token')",
        }
    }

    @router.get(
        "/{case_id}",
        summary="A case with its full timeline, alerts and evaluations",
        openapi_extra=can_read.openapi,
    )
    async def get_case(case_id: CaseId, actor: Actor = can_read.actor) -> dict[str, Any]:
        found = await reports.case_file(
            reader=reader(), case_id=case_id, now=clock.now(), actor=actor
        )
        return {
            **found.case,
            "timeline": [asdict(entry) for entry in found.timeline],
            "alerts": found.alerts,
            "evaluations": found.evaluations,
            "follow_up_calls": found.follow_up_calls,
        }

    @router.get(
        "",
        summary="Search cases (a township's or department's own, for their officials and staff)",
        openapi_extra=can_read.openapi,
    )
    async def search_cases(
        state: CaseState | None = None,
        department: Department | None = None,
        township: Annotated[str | None, Query(max_length=64)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        overdue: bool | None = None,
        received_from: ReceivedFrom = None,
        received_to: ReceivedTo = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        actor: Actor = can_read.actor,
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
            actor=actor,
        )
        return {"total": total, "limit": limit, "offset": offset, "cases": cases}

    @router.post(
        "/{case_id}/evaluations",
        status_code=201,
        summary="An evaluation: a resident's with the case's evaluation token, or a hotline "
        "operator's from a follow-up call; 3-5 closes the case, 1-2 reopens it (不满意重办)",
        openapi_extra=can_evaluate,
    )
    async def evaluate(
        case_id: CaseId,
        body: EvaluateCase,
        operator: Actor | None = may_evaluate,
    ) -> dict[str, Any]:
        evaluation = CaseEvaluated(
            case_id=case_id,
            evaluation_id=body.evaluation_id or uuid.uuid4().hex,
            score=body.score,
            comment=body.comment,
            token=body.token,
        )
        case = await evaluations.evaluate_case(
            uow=uow(),
            evaluation=evaluation,
            now=clock.now(),
            policy=policy,
            operator=operator.audit_name if operator else None,
        )
        return {"evaluation_id": evaluation.evaluation_id, "case_id": case_id, "state": case.state}

    @router.post(
        "/{case_id}/follow-up-calls",
        status_code=201,
        summary="A follow-up call (回访), recorded by the hotline operator who made it",
        openapi_extra=can_call.openapi,
    )
    async def record_call(
        case_id: CaseId, body: RecordFollowUpCall, actor: Actor = can_call.actor
    ) -> dict[str, Any]:
        call = FollowUpCall(
            call_id=body.call_id or uuid.uuid4().hex,
            case_id=case_id,
            called_at=body.called_at or clock.now(),
            operator=actor.audit_name,
            reached=body.reached,
            satisfied=body.satisfied,
            note=body.note,
        )
        kept = await evaluations.record_follow_up_call(
            uow=uow(), call=call, now=clock.now(), policy=policy
        )
        return asdict(kept)

    @router.get(
        "/{case_id}/follow-up-calls",
        summary="The case's follow-up calls",
        openapi_extra=can_read.openapi,
    )
    async def list_calls(case_id: CaseId, actor: Actor = can_read.actor) -> list[dict[str, Any]]:
        found = await reports.case_file(
            reader=reader(), case_id=case_id, now=clock.now(), actor=actor
        )
        return found.follow_up_calls

    @router.post(
        "/{case_id}/extensions",
        status_code=201,
        summary="Extend the resolution deadline (the county hub)",
        openapi_extra=can_extend.openapi,
    )
    async def extend(
        case_id: CaseId, body: ExtendDeadline, actor: Actor = can_extend.actor
    ) -> dict[str, Any]:
        case = await evaluations.extend_resolution_deadline(
            uow=uow(),
            case_id=case_id,
            reason=body.reason,
            actor=actor.audit_name,
            now=clock.now(),
            policy=policy,
        )
        deadlines = case.deadlines
        return {
            "case_id": case_id,
            "resolution_due": deadlines.resolution_due if deadlines else None,
        }

    return router
