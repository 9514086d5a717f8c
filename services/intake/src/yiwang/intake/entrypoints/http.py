"""The native HTTP API: create a case, get one with its timeline, list with filters, each
for the callers that may (`allow`); and `REFUSALS`, how intake's refusals are answered
(problem details; Open311's own error list on its paths, see `http_open311`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.case import Channel, Code
from yiwang.common.clock import Clock
from yiwang.common.envelope import field_errors
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import FieldError, Problem, Refusal, field_problem
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import PlatformActor
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain import callers
from yiwang.intake.domain.admission import IntakePolicy, idempotency_key_for
from yiwang.intake.domain.callers import Reader
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.personal_data import NoPhoneOnRecord, PersonalDataErased
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid
from yiwang.intake.entrypoints.bounds import Moment, Ref, parse_cursor
from yiwang.intake.entrypoints.formats import MalformedXml, Open311Error, parse_xml
from yiwang.intake.handlers.personal_data import CaseUnknown

# Who calls (no credential or a bad one: 401; a right they lack: 403) is answered by
# libs/common; intake's own Forbidden refusals name their field (`channel`,
# `source.system`, `grid_worker.micro_grid_hint`).
REFUSALS: dict[type[Exception], Refusal] = {
    # Every check of a submission; the exception names the field at fault.
    SubmissionInvalid: Refusal(422),
    MalformedXml: Refusal(400, field="(body)"),
    # Its own status (400, 403, 404); rendered as Open311's error list on its paths.
    Open311Error: Refusal(400),
    CaseUnknown: Refusal(404, field="ref"),
    NoPhoneOnRecord: Refusal(404, field="phone"),
    PersonalDataErased: Refusal(410, field="phone"),
}

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")
SUBMITTERS = (Role.PLATFORM, Role.HOTLINE_OPERATOR, Role.GRID_WORKER, Role.HUB_OPERATOR)
READERS = (Role.PLATFORM, Role.HOTLINE_OPERATOR, Role.HUB_OPERATOR, Role.AUDITOR)


def reader_of(actor: Actor) -> Reader:
    """What `actor` reads: a platform's key (with the read scope) its platform's cases."""
    if isinstance(actor, PlatformActor):
        callers.check_scope(platform=actor.platform, scopes=actor.scopes, scope="read")
        return Reader.platform(actor.submitters)
    return Reader.person(actor)


def case_json(view: CaseView, *, with_timeline: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": str(view.case_id),
        "case_number": view.case_number,
        "status": view.state,
        "status_note": view.status_note,
        "channel": view.channel,
        "category": view.category,
        "title": view.title,
        "description": view.description,
        "priority": view.priority,
        "lead_department": view.lead_department,
        "location": {
            "lon": view.lon,
            "lat": view.lat,
            "crs": "WGS-84",
            "address": view.address,
            "admin_code": view.admin_code,
        },
        "media_urls": view.media_urls,
        "reporter_count": view.reporter_count,
        "duplicate_of": view.master_case_number,
        "source": {"system": view.source_system, "external_id": view.external_id}
        if view.source_system
        else None,
        "received_at": view.received_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }
    if view.evaluation is not None:
        body["evaluation"] = {
            "token": view.evaluation.token,
            "expires_at": view.evaluation.expires_at.isoformat(),
        }
    if with_timeline:
        body["timeline"] = [
            {
                "at": e.at.isoformat(),
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor,
                "note": e.note,
            }
            for e in view.timeline
        ]
    return body


async def submission_of(request: Request) -> CaseSubmission:
    """The request's JSON or XML body as a submission; each field at fault named."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    body: Any
    if content_type in JSON_TYPES:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise field_problem(400, "(body)", f"malformed JSON: {exc}") from None
    elif content_type in XML_TYPES:
        body = parse_xml(raw)
    else:
        reason = f"content type '{content_type or '(none)'}' is not accepted; send application/json or application/xml"
        raise field_problem(415, "Content-Type", reason)
    try:
        return CaseSubmission.model_validate(body)
    except ValidationError as exc:
        errors = [FieldError(field, reason) for field, reason in field_errors(exc)]
        detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        raise Problem(422, detail, errors=errors) from None


def _cursor(view: CaseView) -> str:
    return base64.urlsafe_b64encode(
        f"{view.received_at.isoformat()}|{view.case_id}".encode()
    ).decode()


def native_router(
    *,
    authenticate: Authenticate,
    uow: Callable[[], IntakeUnitOfWork],
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
    public_base_url: str,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["cases"])
    can_submit = allow(authenticate, *SUBMITTERS, bound=("micro_grid",))
    can_read = allow(authenticate, *READERS)

    @router.post(
        "/cases",
        summary="Create a case (JSON or XML body)",
        status_code=201,
        responses={
            200: {"description": "a retry: the case created the first time"},
            422: {"description": "field errors"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CaseSubmission.model_json_schema()}},
            },
            **can_submit.openapi,
        },
    )
    async def create_case(
        request: Request,
        actor: Actor = can_submit.actor,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
    ) -> JSONResponse:
        submission = await submission_of(request)
        if isinstance(actor, PlatformActor):
            callers.check_scope(platform=actor.platform, scopes=actor.scopes, scope="submit")
            callers.check_platform_submission(
                submission, platform=actor.platform, systems=actor.systems
            )
            submitted_by = actor.platform
        else:
            callers.check_person_submission(submission, actor)
            submitted_by = actor.audit_name
        admitted = await handlers.submit_case(
            uow=uow(),
            submission=submission,
            policy=policy,
            vault=vault,
            numbers=numbers,
            clock=clock,
            idempotency=idempotency_key_for(submission, idempotency_key, submitted_by),
            api_key_id=actor.id if isinstance(actor, PlatformActor) else None,
            submitted_by=submitted_by,
            actor=actor.audit_name,
        )
        status = CaseState.DUPLICATE if admitted.duplicate_of else CaseState.RECEIVED
        body_out = {
            "case_id": str(admitted.case_id),
            "case_number": admitted.case_number,
            "status": status.value,
            "duplicate_of": admitted.duplicate_of,
            "url": f"{public_base_url}/v1/cases/{admitted.case_number}",
        }
        return JSONResponse(body_out, status_code=201 if admitted.created else 200)

    @router.get(
        "/cases/{ref}",
        summary="A case with its current status and timeline",
        openapi_extra=can_read.openapi,
    )
    async def get_case(ref: Ref, actor: Actor = can_read.actor) -> JSONResponse:
        view = await handlers.get_case(
            uow=uow(), ref=ref, reader=reader_of(actor), vault=vault, now=clock.now()
        )
        if view is None:
            raise field_problem(404, "ref", f"no case '{ref}'")
        return JSONResponse(case_json(view))

    @router.get(
        "/cases",
        summary="List cases, newest first, with filters and a cursor",
        openapi_extra=can_read.openapi,
    )
    async def list_cases(
        actor: Actor = can_read.actor,
        status: Annotated[list[CaseState] | None, Query(max_length=20)] = None,
        category: Annotated[list[Code] | None, Query(max_length=50)] = None,
        channel: Channel | None = None,
        received_from: Moment | None = None,
        received_to: Moment | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> JSONResponse:
        reader = reader_of(actor)
        case_filter = CaseFilter(
            states=tuple(s.value for s in status or ()),
            categories=tuple(category or ()),
            channel=channel.value if channel else None,
            received_from=received_from,
            received_to=received_to,
            after=parse_cursor(cursor) if cursor else None,
            limit=limit,
            submitters=tuple(sorted(reader.submitters)) if reader.submitters is not None else None,
        )
        views = await handlers.list_cases(uow=uow(), case_filter=case_filter)
        next_cursor = _cursor(views[-1]) if len(views) == limit else None
        return JSONResponse(
            {
                "cases": [case_json(v, with_timeline=False) for v in views],
                "next_cursor": next_cursor,
            }
        )

    return router
