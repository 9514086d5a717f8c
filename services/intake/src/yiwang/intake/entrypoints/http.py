"""The native HTTP API: create a case, get one with its timeline, list with filters."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from yiwang.common.case import Channel
from yiwang.common.envelope import field_errors
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import ApiKey
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.dependencies import IntakeDependencies
from yiwang.intake.domain.admission import idempotency_key_for
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.submission import CaseSubmission
from yiwang.intake.entrypoints.formats import MalformedXml, parse_xml
from yiwang.intake.entrypoints.guards import field_errors_response, require_scope

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")


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


def _cursor(view: CaseView) -> str:
    return base64.urlsafe_b64encode(
        f"{view.received_at.isoformat()}|{view.case_id}".encode()
    ).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    return datetime.fromisoformat(at), uuid.UUID(case_id)


def native_router(deps: IntakeDependencies) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["cases"])
    can_submit = Depends(require_scope(deps.api_keys, "submit"))
    can_read = Depends(require_scope(deps.api_keys, "read"))

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
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw = await request.body()
        if content_type in JSON_TYPES:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                return field_errors_response([("(body)", f"malformed JSON: {exc}")], 400)
        elif content_type in XML_TYPES:
            try:
                body = parse_xml(raw)
            except MalformedXml as exc:
                return field_errors_response([("(body)", str(exc))], 400)
        else:
            reason = f"content type '{content_type or '(none)'}' is not accepted; send application/json or application/xml"
            return field_errors_response([("Content-Type", reason)], 415)
        try:
            submission = CaseSubmission.model_validate(body)
        except ValidationError as exc:
            return field_errors_response(list(field_errors(exc)))
        admitted = await handlers.submit_case(
            uow=deps.uow(),
            submission=submission,
            policy=deps.policy,
            vault=deps.vault,
            numbers=deps.numbers(),
            clock=deps.runtime.clock,
            idempotency=idempotency_key_for(submission, idempotency_key, key.key_id),
            api_key_id=key.key_id,
        )
        status = CaseState.DUPLICATE if admitted.duplicate_of else CaseState.RECEIVED
        body_out = {
            "case_id": str(admitted.case_id),
            "case_number": admitted.case_number,
            "status": status.value,
            "duplicate_of": admitted.duplicate_of,
            "url": f"{deps.settings.public_base_url}/v1/cases/{admitted.case_number}",
        }
        return JSONResponse(body_out, status_code=201 if admitted.created else 200)

    @router.get("/cases/{ref}", summary="A case with its current status and timeline")
    async def get_case(ref: str, _: ApiKey = can_read) -> JSONResponse:
        view = await handlers.get_case(uow=deps.uow(), ref=ref)
        if view is None:
            return field_errors_response([("ref", f"no case '{ref}'")], 404)
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
        try:
            after = _parse_cursor(cursor) if cursor else None
        except ValueError:
            return field_errors_response([("cursor", "not a cursor this API returned")], 400)
        case_filter = CaseFilter(
            states=tuple(s.value for s in status or ()),
            categories=tuple(category or ()),
            channel=channel.value if channel else None,
            received_from=received_from,
            received_to=received_to,
            after=after,
            limit=limit,
        )
        views = await handlers.list_cases(uow=deps.uow(), case_filter=case_filter)
        next_cursor = _cursor(views[-1]) if len(views) == limit else None
        return JSONResponse(
            {
                "cases": [case_json(v, with_timeline=False) for v in views],
                "next_cursor": next_cursor,
            }
        )

    return router
