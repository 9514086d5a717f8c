"""The one HTTP error body of every service's own API: RFC 9457 problem details.

    HTTP/1.1 422 Unprocessable Content
    Content-Type: application/problem+json

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "location.lat: Input should be less than or equal to 90",
     "instance": "/v1/cases",
     "errors": [{"field": "location.lat", "reason": "Input should be less than or equal to 90"}]}

`errors` lists `{field, reason}` for each field at fault (empty when no field is). A
refusal with a stable code (a department reply's `not_assignment_holder`) carries it as
`code`, and `type` is then `urn:yiwang:problem:<code>`. Services map their domain
exceptions to a status and a field once, in their wiring (`Refusal`); routes raise and
never build error bodies themselves. Open311 keeps the spec's own error list: intake
passes an `alternative` that renders those paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from yiwang.common.auth import Forbidden, Unauthenticated
from yiwang.common.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
# Where FastAPI's validation errors say a value came from; the field is what follows.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


class Problem(Exception):
    """A refusal raised by a route or a dependency, answered as problem details."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.errors = tuple(errors)
        self.code = code
        self.headers = dict(headers or {})
        super().__init__(detail)


def field_problem(status: int, field: str, reason: str, *, code: str | None = None) -> Problem:
    """A refusal naming one field: the common case."""
    return Problem(status, f"{field}: {reason}", errors=[FieldError(field, reason)], code=code)


@dataclass(frozen=True, slots=True)
class Refusal:
    """How a domain exception is answered: its status, the field at fault and a stable
    code. The exception's own `field`, `status` or `code` attributes, where it has them,
    take precedence."""

    status: int
    field: str | None = None
    code: str | None = None


def problem_body(
    status: int,
    *,
    detail: str | None = None,
    errors: Iterable[FieldError] = (),
    instance: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:yiwang:problem:{code}" if code else "about:blank",
        "title": _title(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if code:
        body["code"] = code
    body["errors"] = [{"field": e.field, "reason": e.reason} for e in errors]
    return body


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    errors: Iterable[FieldError] = (),
    instance: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail=detail, errors=errors, instance=instance, code=code),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def validation_errors(raw: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """FastAPI's / pydantic's error list as {field, reason} pairs."""
    found: list[FieldError] = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ()) if p not in _SOURCES]
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        found.append(FieldError(".".join(loc) or "(body)", reason))
    return found


# An alternative renderer for some paths (Open311): given the request, the status and the
# field errors and detail, a response, or None to answer with problem details.
Alternative = Callable[[Request, int, Sequence[FieldError], str], Response | None]


def install_problem_details(
    app: FastAPI,
    *,
    refusals: Mapping[type[Exception], Refusal] | None = None,
    alternative: Alternative | None = None,
) -> None:
    """Every error of `app` as problem details: validation, HTTP errors, `Problem`, who is
    calling (401, 403), the domain exceptions in `refusals`, and (without internals)
    anything unexpected."""
    mapped: dict[type[Exception], Refusal] = {
        Unauthenticated: Refusal(401, "authorization", "unauthenticated"),
        Forbidden: Refusal(403, "authorization", "forbidden"),
        **(refusals or {}),
    }

    def answer(
        request: Request,
        status: int,
        detail: str,
        errors: Sequence[FieldError] = (),
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if alternative is not None:
            other = alternative(request, status, errors, detail)
            if other is not None:
                return other
        return problem_response(
            status,
            detail=detail,
            errors=errors,
            instance=request.url.path,
            code=code,
            headers=headers,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        return answer(request, 422, detail, errors)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
        return answer(request, exc.status_code, detail, headers=exc.headers)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return answer(request, exc.status, exc.detail, exc.errors, exc.code, exc.headers)

    async def on_refusal(request: Request, exc: Exception) -> Response:
        refusal = next(r for kind, r in mapped.items() if isinstance(exc, kind))
        field, status, code = _refined(exc, refusal)
        reason = str(exc)
        errors = [FieldError(field, reason)] if field else []
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return answer(request, status, reason, errors, code, headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return answer(request, 500, "an internal error; it was logged")

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Problem, on_problem)
    for kind in mapped:
        app.add_exception_handler(kind, on_refusal)
    app.add_exception_handler(Exception, on_unexpected)


def _refined(exc: Exception, refusal: Refusal) -> tuple[str | None, int, str | None]:
    """An exception may refine its refusal with `field`, `status` or `code` attributes."""
    field, status, code = (
        getattr(exc, "field", None),
        getattr(exc, "status", None),
        getattr(exc, "code", None),
    )
    return (
        field if isinstance(field, str) else refusal.field,
        status if isinstance(status, int) and 400 <= status < 600 else refusal.status,
        code if isinstance(code, str) else refusal.code,
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
