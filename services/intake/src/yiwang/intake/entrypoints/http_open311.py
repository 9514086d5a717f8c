"""Open311 GeoReport v2, complete: discovery, services, definitions, requests, tokens.

Every endpoint answers in `.json` and `.xml`; errors use the spec's list of
code/description with its status codes (400, 401, 403, 404): routes raise `Open311Error`
(or any refusal), and `open311_problem`, the app's problem-details alternative for these
paths, renders it. service_request_id is the case number, so a resident can read it over
the phone.

The reads are public, so they show only what the public may see: categories that are
`public` (never petitions, disputes between people or public-order reports), scrubbed
text, and points rounded to 3 decimals (about 100 m), a page at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from yiwang.common.access import PUBLIC, allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.bounds import FIRST_YEAR, LAST_YEAR
from yiwang.common.categories import CATEGORIES
from yiwang.common.clock import Clock
from yiwang.common.departments import DEPARTMENTS, Department
from yiwang.common.personal_data import PersonalDataVault, scrub
from yiwang.common.problems import FieldError
from yiwang.common.states import CaseState
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import ApiKeyStore, PlatformActor
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain import callers, open311
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.submission import SubmissionInvalid
from yiwang.intake.entrypoints.formats import FORMATS, Open311Error, errors, render
from yiwang.intake.entrypoints.open311_forms import (
    PREFIX,
    open311_caller,
    open311_field,
    open311_format,
    read_form,
    submission_from_form,
)

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-21T00:00:00Z"
DEFAULT_DAYS = 90
MAX_IDS = 100
PUBLIC_CODES = tuple(sorted(c.code for c in CATEGORIES.values() if c.public))
Short = Annotated[str | None, Query(max_length=100)]
Format = Annotated[str, Path(max_length=8)]
Id = Annotated[str, Path(min_length=1, max_length=64)]

__all__ = ["Open311Error", "open311_problem", "open311_router"]


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
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise Open311Error(400, f"{name} '{raw}' must be within the years {FIRST_YEAR}-{LAST_YEAR}")
    return parsed


def _rounded(value: float | None) -> float | None:
    """About 100 m: near enough to find the problem, not the door of who reported it."""
    return round(value, 3) if value is not None else None


def _request_json(view: CaseView) -> dict[str, object]:
    category = CATEGORIES.get(view.category)
    agency = DEPARTMENTS[Department(view.lead_department)].name_zh if view.lead_department else None
    return {
        "service_request_id": view.case_number,
        "status": open311.open311_status(view.state),
        "status_notes": scrub(open311.status_note(view.state, view.status_note)).text,
        "service_name": category.name_zh if category else view.category,
        "service_code": view.category,
        "description": scrub(view.description).text,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _w3c(view.received_at),
        "updated_datetime": _w3c(view.updated_at),
        "expected_datetime": None,
        "address": scrub(view.address).text if view.address else None,
        "address_id": None,
        "zipcode": None,
        "lat": _rounded(view.lat),
        "long": _rounded(view.lon),
        "media_url": view.media_urls[0] if view.media_urls else None,
    }


def _public(view: CaseView | None) -> bool:
    category = CATEGORIES.get(view.category) if view is not None else None
    return category is not None and category.public


def open311_router(
    *,
    authenticate: Authenticate,
    uow: Callable[[], IntakeUnitOfWork],
    api_keys: ApiKeyStore,
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    clock: Clock,
    settings: IntakeSettings,
) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])
    can_post = allow(open311_caller(authenticate, api_keys), Role.PLATFORM)

    def check(fmt: str, jurisdiction_id: str | None) -> None:
        if fmt not in FORMATS:
            raise Open311Error(404, f"format '.{fmt}' is not supported; use .json or .xml")
        if jurisdiction_id and jurisdiction_id != settings.open311_jurisdiction:
            raise Open311Error(404, f"jurisdiction_id '{jurisdiction_id}' not found")

    @router.get("/discovery.{fmt}", summary="Service discovery", openapi_extra=PUBLIC)
    async def discovery(fmt: Format) -> Response:
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

    @router.get(
        "/services.{fmt}", summary="Service list (the category taxonomy)", openapi_extra=PUBLIC
    )
    async def services(fmt: Format, jurisdiction_id: Short = None) -> Response:
        check(fmt, jurisdiction_id)
        payload = [
            {"service_code": c.code, "service_name": c.name_zh, "description": c.name_en,
             "metadata": bool(open311.attributes_for(c)), "type": "realtime",
             "keywords": ", ".join(c.keywords), "group": c.group.value}
            for c in open311.services()
        ]  # fmt: skip
        return render(fmt, root="services", item="service", payload=payload)

    @router.get(
        "/services/{service_code}.{fmt}",
        summary="Service definition with its attributes",
        openapi_extra=PUBLIC,
    )
    async def definition(service_code: Id, fmt: Format, jurisdiction_id: Short = None) -> Response:
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

    @router.post(
        "/requests.{fmt}",
        summary="Create a service request (form-encoded, with api_key)",
        openapi_extra=can_post.openapi,
    )
    async def create(fmt: Format, request: Request, actor: Actor = can_post.actor) -> Response:
        check(fmt, None)
        form = await read_form(request)
        jurisdiction = form.get("jurisdiction_id")
        check(fmt, jurisdiction if isinstance(jurisdiction, str) and jurisdiction else None)
        assert isinstance(actor, PlatformActor)
        callers.check_scope(platform=actor.platform, scopes=actor.scopes, scope="submit")
        submission = submission_from_form(form)
        try:
            admitted = await handlers.submit_case(
                uow=uow(), submission=submission, policy=policy, vault=vault, numbers=numbers,
                clock=clock, api_key_id=actor.id, with_token=True, submitted_by=actor.platform,
                actor=actor.audit_name,
            )  # fmt: skip
        except SubmissionInvalid as exc:
            raise Open311Error(400, f"{open311_field(exc.field)}: {exc.reason}") from None
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

    @router.get(
        "/requests.{fmt}",
        summary="Service requests of public categories, a page at a time",
        openapi_extra=PUBLIC,
    )
    async def requests(
        fmt: Format,
        jurisdiction_id: Short = None,
        service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
        service_code: Annotated[str | None, Query(max_length=2000)] = None,
        start_date: Annotated[str | None, Query(max_length=40)] = None,
        end_date: Annotated[str | None, Query(max_length=40)] = None,
        status: Annotated[str | None, Query(max_length=20)] = None,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> Response:
        check(fmt, jurisdiction_id)
        statuses = [s.strip() for s in status.split(",")] if status else []
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, f"status '{status}' must be open, closed or both (open,closed)")
        ids = [i.strip() for i in service_request_id.split(",") if i.strip()] if service_request_id else []  # fmt: skip
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"service_request_id: at most {MAX_IDS} ids at a time")
        start_at, end_at = _parse_w3c("start_date", start_date), _parse_w3c("end_date", end_date)
        if start_at and end_at and start_at > end_at:
            raise Open311Error(400, "start_date is after end_date")
        if not ids and start_at is None:
            start_at = (end_at or clock.now()) - timedelta(days=DEFAULT_DAYS)
        asked = {c.strip() for c in service_code.split(",")} if service_code else None
        codes = tuple(c for c in PUBLIC_CODES if asked is None or c in asked)
        case_filter = CaseFilter(
            states=tuple(_states_for(statuses)), categories=codes, case_numbers=tuple(ids),
            received_from=start_at, received_to=end_at, limit=page_size,
            offset=(page - 1) * page_size,
        )  # fmt: skip
        # Only public categories, ever: asked for none of them, the answer is empty.
        views = await handlers.list_cases(uow=uow(), case_filter=case_filter) if codes else []
        return render(
            fmt, root="service_requests", item="request", payload=[_request_json(v) for v in views]
        )

    @router.get(
        "/requests/{service_request_id}.{fmt}",
        summary="One service request (of a public category)",
        openapi_extra=PUBLIC,
    )
    async def one(service_request_id: Id, fmt: Format, jurisdiction_id: Short = None) -> Response:
        check(fmt, jurisdiction_id)
        view = await handlers.get_case(uow=uow(), ref=service_request_id)
        if view is None or not _public(view):
            raise Open311Error(404, f"service_request_id '{service_request_id}' not found")
        return render(fmt, root="service_requests", item="request", payload=[_request_json(view)])

    @router.get(
        "/tokens/{token}.{fmt}",
        summary="The service_request_id behind a token",
        openapi_extra=PUBLIC,
    )
    async def token(token: Id, fmt: Format, jurisdiction_id: Short = None) -> Response:
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

    return router


def _states_for(statuses: list[str]) -> list[str]:
    if not statuses or set(statuses) == {"open", "closed"}:
        return []
    closed = sorted(open311.CLOSED_STATES)
    if statuses == ["closed"]:
        return closed
    return [s.value for s in CaseState if s.value not in closed]
