"""Open311's request forms and its callers: the form read as UTF-8 and turned into a
submission; the platform behind `api_key` (or an Authorization header); and refusals
made before any route ran (the input guard's) in the spec's error list on its paths."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yiwang.common.auth import Actor, Authenticate, Unauthenticated, presented_credential
from yiwang.common.case import Channel
from yiwang.common.categories import CATEGORIES
from yiwang.common.envelope import field_errors
from yiwang.common.problems import PROBLEM_JSON
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.domain.submission import CaseSubmission
from yiwang.intake.entrypoints.formats import Open311Error, errors

PREFIX = "/open311/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_CLIENT_FIELDS = {"location.lat": "lat", "location.lon": "long", "location": "lat/long",
                  "reporter.phone": "phone", "reporter.name": "first_name/last_name",
                  "media_urls.0": "media_url"}  # fmt: skip


def open311_format(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def open311_field(field: str) -> str:
    """Name the field as the client sent it (lat, long, phone), not as intake stores it."""
    return _CLIENT_FIELDS.get(field, field)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def submission_from_form(form: FormData) -> CaseSubmission:
    code = _text(form, "service_code") or ""
    if not code:
        raise Open311Error(400, "service_code is required")
    category = CATEGORIES.get(code)
    if category is None:
        raise Open311Error(400, f"service_code '{code}' not found; GET services.json lists them")
    lat, lon = _text(form, "lat"), _text(form, "long")
    address, address_id = _text(form, "address_string"), _text(form, "address_id")
    if not ((lat and lon) or address or address_id):
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    name = " ".join(p for p in (_text(form, "last_name"), _text(form, "first_name")) if p) or None
    phone = _text(form, "phone")
    attributes = {
        str(k)[len("attribute[") : -1]: str(v)
        for k, v in form.multi_items()
        if str(k).startswith("attribute[") and str(k).endswith("]")
    }
    media_url = _text(form, "media_url")
    fields = {
        "channel": Channel.OPEN311,
        "category": code,
        "title": category.name_zh,
        "description": _text(form, "description") or category.name_zh,
        "location": {
            "lon": lon,
            "lat": lat,
            "address": address or (f"address_id {address_id}" if address_id else None),
        },
        "reporter": {"name": name, "phone": phone, "anonymous": not (name or phone)},
        "media_urls": [media_url] if media_url else [],
        "attributes": attributes,
        "email": _text(form, "email"),
    }
    try:
        return CaseSubmission.model_validate(fields)
    except ValidationError as exc:
        field, reason = field_errors(exc)[0]
        raise Open311Error(400, f"{open311_field(field)}: {reason}") from None


async def read_form(request: Request) -> FormData:
    """UTF-8 as the spec requires, whether the client percent-encodes it or not."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        raise Open311Error(400, "send the request form-encoded (application/x-www-form-urlencoded)")
    if content_type.startswith("multipart/form-data"):
        try:
            return await request.form(max_files=0, max_fields=100)
        except Exception as exc:
            raise Open311Error(400, f"malformed form data: {exc}") from None
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=100,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Open311Error(400, f"malformed form data: {exc}") from None
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


def open311_caller(authenticate: Authenticate, api_keys: ApiKeyStore) -> Authenticate:
    """Who posts a request: the `api_key` form field, as the spec has it, or a credential
    in the headers as on every other route."""

    async def caller(request: Request) -> Actor:
        if presented_credential(request) is not None:
            return await authenticate(request)
        is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
        presented = _text(await read_form(request), "api_key") if is_form else None
        if not presented:
            raise Unauthenticated("api_key is required (a form field, or X-API-Key)")
        actor = await api_keys.actor(presented)
        if actor is None:
            raise Unauthenticated("api_key is not valid or was revoked")
        return actor

    return caller


class Open311Errors:
    """ASGI: a problem-details answer on an Open311 path that no route's handler made (the
    input guard refuses bodies and query strings before routing) in the spec's error
    list, in the path's format."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_problem(message):
                held.append(message)
                return
            if held:
                held.append(message)
                if not message.get("more_body", False):
                    await _as_open311(scope, held, receive, send)
                return
            await send(message)

        await self.app(scope, receive, hold)


def _is_problem(message: Message) -> bool:
    headers = dict(message.get("headers", []))
    return bool(headers.get(b"content-type", b"").startswith(PROBLEM_JSON.encode()))


async def _as_open311(scope: Scope, held: list[Message], receive: Receive, send: Send) -> None:
    status = int(held[0]["status"])
    body = b"".join(m.get("body", b"") for m in held[1:])
    try:
        problem: dict[str, Any] = json.loads(body)
        faults = problem.get("errors") or []
        first = faults[0] if faults else None
        description = f"{first['field']}: {first['reason']}" if first else problem.get("detail")
    except (ValueError, KeyError, TypeError):
        description = None
    response = errors(
        open311_format(scope["path"]), 400 if status == 422 else status, description or "error"
    )
    await response(scope, receive, send)


def install_open311_errors(app: FastAPI) -> None:
    """Wrap the whole middleware stack (the input guard included) when it is built."""
    build = app.build_middleware_stack

    def wrapped() -> ASGIApp:
        return Open311Errors(build())

    app.build_middleware_stack = wrapped  # type: ignore[method-assign]
