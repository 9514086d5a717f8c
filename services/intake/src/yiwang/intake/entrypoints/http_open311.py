"""Open311 GeoReport v2, complete: discovery, services, definitions, requests, tokens.

Every endpoint answers in `.json` and `.xml`; errors use the spec's list of
code/description with its status codes (400, 403, 404): routes raise `Open311Error` (or
any refusal), and `open311_problem`, the app's problem-details alternative for these
paths, renders it. service_request_id is the case number, so a resident can read it over
the phone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from yiwang.common.case import Channel
from yiwang.common.categories import CATEGORIES
from yiwang.common.clock import Clock
from yiwang.common.departments import DEPARTMENTS, Department
from yiwang.common.envelope import field_errors
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import FieldError
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain import open311
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid
from yiwang.intake.entrypoints.formats import FORMATS, errors, render

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-21T00:00:00Z"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
PREFIX = "/open311/"


class Open311Error(Exception):
    """A request Open311 refuses, with the spec's status and description."""

    def __init__(self, status: int, description: str) -> None:
        self.status = status
        self.description = description
        super().__init__(description)


def open311_problem(
    request: Request, status: int, faults: Sequence[FieldError], detail: str
) -> Response | None:
    """Any refusal on an Open311 path as the spec's error list, in the path's format: the
    first field at fault as "<field>: <reason>", else the detail. Other paths: None (they
    answer with problem details)."""
    path = request.url.path
    if not path.startswith(PREFIX):
        return None
    first = faults[0] if faults else None
    description = f"{first.field}: {first.reason}" if first else detail
    # GeoReport v2 answers an invalid request with 400, where problem details say 422.
    return errors(open311_format(path), 400 if status == 422 else status, description)


def _w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _parse_w3c(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name} '{raw}' is not a w3 date/time such as 2026-11-21T08:00:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} '{raw}' needs a time zone (Z or +08:00)")
    return parsed


def _request_json(view: CaseView) -> dict[str, object]:
    category = CATEGORIES.get(view.category)
    agency = DEPARTMENTS[Department(view.lead_department)].name_zh if view.lead_department else None
    return {
        "service_request_id": view.case_number,
        "status": open311.open311_status(view.state),
        "status_notes": open311.status_note(view.state, view.status_note),
        "service_name": category.name_zh if category else view.category,
        "service_code": view.category,
        "description": view.description,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _w3c(view.received_at),
        "updated_datetime": _w3c(view.updated_at),
        "expected_datetime": None,
        "address": view.address,
        "address_id": None,
        "zipcode": None,
        "lat": view.lat,
        "long": view.lon,
        "media_url": view.media_urls[0] if view.media_urls else None,
    }


def _submission_from_form(form: FormData) -> CaseSubmission:
    code = str(form.get("service_code") or "")
    if not code:
        raise Open311Error(400, "service_code is required")
    category = CATEGORIES.get(code)
    if category is None:
        raise Open311Error(400, f"service_code '{code}' not found; GET services.json lists them")
    lat, lon = form.get("lat"), form.get("long")
    address = form.get("address_string") or None
    if not ((lat and lon) or address or form.get("address_id")):
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    name = " ".join(str(p) for p in (form.get("last_name"), form.get("first_name")) if p) or None
    attributes = {
        str(k)[len("attribute[") : -1]: str(v)
        for k, v in form.multi_items()
        if str(k).startswith("attribute[") and str(k).endswith("]")
    }
    fields = {
        "channel": Channel.OPEN311,
        "category": code,
        "title": category.name_zh,
        "description": str(form.get("description") or category.name_zh),
        "location": {
            "lon": lon or None,
            "lat": lat or None,
            "address": address
            or (f"address_id {form.get('address_id')}" if form.get("address_id") else None),
        },
        "reporter": {
            "name": name,
            "phone": form.get("phone") or None,
            "anonymous": not (name or form.get("phone")),
        },
        "media_urls": [str(form["media_url"])] if form.get("media_url") else [],
        "attributes": attributes,
        "email": form.get("email") or None,
    }
    try:
        return CaseSubmission.model_validate(fields)
    except ValidationError as exc:
        field, reason = field_errors(exc)[0]
        raise Open311Error(400, f"{_open311_field(field)}: {reason}") from None


def _open311_field(field: str) -> str:
    """Name the field as the client sent it (lat, long, phone), not as intake stores it."""
    return {"location.lat": "lat", "location.lon": "long", "location": "lat/long", "reporter.phone": "phone",
            "reporter.name": "first_name/last_name", "media_urls.0": "media_url"}.get(field, field)  # fmt: skip


async def _read_form(request: Request, content_type: str) -> FormData:
    """UTF-8 as the spec requires, whether the client percent-encodes it or not."""
    if content_type.startswith("multipart/form-data"):
        try:
            return await request.form()
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
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Open311Error(400, f"malformed form data: {exc}") from None
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


def open311_router(
    *,
    uow: Callable[[], IntakeUnitOfWork],
    api_keys: ApiKeyStore,
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
    settings: IntakeSettings,
) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])

    def check(fmt: str, jurisdiction_id: str | None) -> None:
        if fmt not in FORMATS:
            raise Open311Error(404, f"format '.{fmt}' is not supported; use .json or .xml")
        if jurisdiction_id and jurisdiction_id != settings.open311_jurisdiction:
            raise Open311Error(404, f"jurisdiction_id '{jurisdiction_id}' not found")

    @router.get("/discovery.{fmt}", summary="Service discovery")
    async def discovery(fmt: str) -> Response:
        check(fmt, None)
        base = f"{settings.public_base_url}/open311/v2"
        endpoint = {"specification": SPEC, "url": base, "changeset": CHANGESET, "type": "production",
                    "formats": ["text/xml", "application/json"]}  # fmt: skip
        payload = {
            "changeset": CHANGESET,
            "contact": settings.county_name,
            "key_service": f"{base} (keys from the county platform office)",
            "endpoints": [endpoint],
        }
        return render(fmt, root="discovery", item=None, payload=payload)

    @router.get("/services.{fmt}", summary="Service list (the category taxonomy)")
    async def services(fmt: str, jurisdiction_id: str | None = None) -> Response:
        check(fmt, jurisdiction_id)
        payload = [
            {"service_code": c.code, "service_name": c.name_zh, "description": c.name_en,
             "metadata": bool(open311.attributes_for(c)), "type": "realtime",
             "keywords": ", ".join(c.keywords), "group": c.group.value}
            for c in open311.services()
        ]  # fmt: skip
        return render(fmt, root="services", item="service", payload=payload)

    @router.get("/services/{service_code}.{fmt}", summary="Service definition with its attributes")
    async def definition(
        service_code: str, fmt: str, jurisdiction_id: str | None = None
    ) -> Response:
        check(fmt, jurisdiction_id)
        category = CATEGORIES.get(service_code)
        if category is None:
            raise Open311Error(404, f"service_code '{service_code}' not found")
        attributes = [
            {"variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
             "datatype_description": None, "order": a.order, "description": a.description,
             "values": [{"key": v.key, "name": v.name} for v in a.values]}
            for a in open311.attributes_for(category)
        ]  # fmt: skip
        payload = {"service_code": category.code, "attributes": attributes}
        return render(fmt, root="service_definition", item=None, payload=payload)

    @router.post("/requests.{fmt}", summary="Create a service request (form-encoded, with api_key)")
    async def create(fmt: str, request: Request) -> Response:
        check(fmt, None)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            raise Open311Error(
                400, "send the request form-encoded (application/x-www-form-urlencoded)"
            )
        form = await _read_form(request, content_type)
        check(fmt, str(form.get("jurisdiction_id") or "") or None)
        key = await api_keys.verify(str(form.get("api_key") or ""))
        if key is None or "submit" not in key.scopes:
            raise Open311Error(403, "api_key was not provided, is not valid, or may not submit")
        submission = _submission_from_form(form)
        try:
            admitted = await handlers.submit_case(
                uow=uow(), submission=submission, policy=policy, vault=vault, numbers=numbers,
                clock=clock, api_key_id=key.key_id, with_token=True,
            )  # fmt: skip
        except SubmissionInvalid as exc:
            raise Open311Error(400, f"{_open311_field(exc.field)}: {exc.reason}") from None
        notice = (
            f"已与诉求 {admitted.duplicate_of} 合并 Merged with {admitted.duplicate_of}"
            if admitted.duplicate_of
            else None
        )
        payload = [
            {
                "service_request_id": admitted.case_number,
                "token": admitted.token,
                "service_notice": notice,
                "account_id": None,
            }
        ]
        return render(fmt, root="service_requests", item="request", payload=payload)

    @router.get("/requests.{fmt}", summary="Service requests, with the spec's filters")
    async def requests(
        fmt: str,
        jurisdiction_id: str | None = None,
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: Annotated[str | None, Query()] = None,
    ) -> Response:
        check(fmt, jurisdiction_id)
        return await _list(fmt, service_request_id, service_code, start_date, end_date, status)

    @router.get("/requests/{service_request_id}.{fmt}", summary="One service request")
    async def one(
        service_request_id: str, fmt: str, jurisdiction_id: str | None = None
    ) -> Response:
        check(fmt, jurisdiction_id)
        view = await handlers.get_case(uow=uow(), ref=service_request_id)
        if view is None:
            raise Open311Error(404, f"service_request_id '{service_request_id}' not found")
        return render(fmt, root="service_requests", item="request", payload=[_request_json(view)])

    @router.get("/tokens/{token}.{fmt}", summary="The service_request_id behind a token")
    async def token(token: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
        check(fmt, jurisdiction_id)
        number = await handlers.case_for_token(uow=uow(), token=token)
        if number is None:
            raise Open311Error(404, f"token '{token}' not found")
        return render(
            fmt,
            root="service_requests",
            item="request",
            payload=[{"service_request_id": number, "token": token}],
        )

    async def _list(
        fmt: str,
        ids: str | None,
        codes: str | None,
        start: str | None,
        end: str | None,
        status: str | None,
    ) -> Response:
        statuses = [s.strip() for s in status.split(",")] if status else []
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, f"status '{status}' must be open, closed or both (open,closed)")
        numbers = [i.strip() for i in ids.split(",") if i.strip()] if ids else []
        start_at, end_at = _parse_w3c("start_date", start), _parse_w3c("end_date", end)
        if start_at and end_at and start_at > end_at:
            raise Open311Error(400, "start_date is after end_date")
        if not numbers and start_at is None:
            start_at = (end_at or datetime.now(UTC)) - timedelta(days=DEFAULT_DAYS)
        states = _states_for(statuses)
        views: list[CaseView] = []
        if numbers:
            for number in numbers[:MAX_RESULTS]:
                view = await handlers.get_case(uow=uow(), ref=number)
                if view is not None:
                    views.append(view)
            views = [v for v in views if not states or v.state in states]
        else:
            case_filter = CaseFilter(
                states=tuple(states), categories=tuple(c.strip() for c in codes.split(",")) if codes else (),
                received_from=start_at, received_to=end_at, limit=MAX_RESULTS,
            )  # fmt: skip
            views = await handlers.list_cases(uow=uow(), case_filter=case_filter)
        return render(
            fmt, root="service_requests", item="request", payload=[_request_json(v) for v in views]
        )

    return router


def _states_for(statuses: list[str]) -> list[str]:
    if not statuses or set(statuses) == {"open", "closed"}:
        return []
    closed = sorted(open311.CLOSED_STATES)
    if statuses == ["closed"]:
        return closed
    return [s.value for s in CaseState if s.value not in closed]


def open311_format(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"
