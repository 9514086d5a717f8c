"""The native HTTP API: create a case, get one with its timeline, list with filters; the API
keys every route asks for; and `REFUSALS`, how intake's refusals are answered (problem
details; Open311's own error list on its paths, see `http_open311`)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from yiwang.common.case import Channel
from yiwang.common.clock import Clock
from yiwang.common.envelope import field_errors
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import FieldError, Problem, Refusal, field_problem
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import ApiKey, ApiKeyStore
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import IntakePolicy, idempotency_key_for
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid
from yiwang.intake.entrypoints.formats import MalformedXml, parse_xml
from yiwang.intake.entrypoints.http_open311 import Open311Error

REFUSALS: dict[type[Exception], Refusal] = {
    # Every check of a submission; the exception names the field at fault.
    SubmissionInvalid: Refusal(422),
    MalformedXml: Refusal(400, field="(body)"),
    # Its own status (400, 403, 404); rendered as Open311's error list on its paths.
    Open311Error: Refusal(400),
}

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")


def presented_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def require_scope(keys: ApiKeyStore, scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency: the caller's API key, which must hold `scope` (else 401 or 403)."""

    async def dependency(request: Request) -> ApiKey:
        presented = presented_key(request)
        if not presented:
            raise field_problem(
                401, "api_key", "an API key is required (X-API-Key header or Authorization: Bearer)"
            )
        key = await keys.verify(presented)
        if key is None:
            raise field_problem(401, "api_key", "the API key is not valid or was revoked")
        if scope not in key.scopes:
            raise field_problem(
                403, "api_key", f"the API key of '{key.platform}' lacks the '{scope}' scope"
            )
        return key

    return dependency


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
        except (ValueError, UnicodeDecodeError) as exc:
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


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(case_id)
    except ValueError:
        raise field_problem(400, "cursor", "not a cursor this API returned") from None


def native_router(
    *,
    uow: Callable[[], IntakeUnitOfWork],
    api_keys: ApiKeyStore,
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
    public_base_url: str,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["cases"])
    can_submit = Depends(require_scope(api_keys, "submit"))
    can_read = Depends(require_scope(api_keys, "read"))

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
            }
        },
    )
    async def create_case(
        request: Request,
        key: ApiKey = can_submit,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> JSONResponse:
        submission = await submission_of(request)
        admitted = await handlers.submit_case(
            uow=uow(),
            submission=submission,
            policy=policy,
            vault=vault,
            numbers=numbers,
            clock=clock,
            idempotency=idempotency_key_for(submission, idempotency_key, key.key_id),
            api_key_id=key.key_id,
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

    @router.get("/cases/{ref}", summary="A case with its current status and timeline")
    async def get_case(ref: str, _: ApiKey = can_read) -> JSONResponse:
        view = await handlers.get_case(uow=uow(), ref=ref)
        if view is None:
            raise field_problem(404, "ref", f"no case '{ref}'")
        return JSONResponse(case_json(view))

    @router.get("/cases", summary="List cases, newest first, with filters and a cursor")
    async def list_cases(
        _: ApiKey = can_read,
        status: Annotated[list[CaseState] | None, Query()] = None,
        category: Annotated[list[str] | None, Query()] = None,
        channel: Channel | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> JSONResponse:
        case_filter = CaseFilter(
            states=tuple(s.value for s in status or ()),
            categories=tuple(category or ()),
            channel=channel.value if channel else None,
            received_from=received_from,
            received_to=received_to,
            after=_parse_cursor(cursor) if cursor else None,
            limit=limit,
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
