"""What every intake request passes: a body size limit, API keys with scopes, error shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yiwang.intake.adapters.api_keys import ApiKey, ApiKeyStore
from yiwang.intake.domain.submission import SubmissionInvalid


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = f"request body is larger than {self.max_bytes} bytes"
        response = JSONResponse(
            {"errors": [{"field": "(body)", "reason": reason}]}, status_code=413
        )
        await response(scope, receive, send)


class Unauthorized(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


def presented_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def require_scope(
    store: Callable[[], ApiKeyStore], scope: str
) -> Callable[[Request], Awaitable[ApiKey]]:
    async def dependency(request: Request) -> ApiKey:
        presented = presented_key(request)
        if not presented:
            raise Unauthorized(
                401, "an API key is required (X-API-Key header or Authorization: Bearer)"
            )
        key = await store().verify(presented)
        if key is None:
            raise Unauthorized(401, "the API key is not valid or was revoked")
        if scope not in key.scopes:
            raise Unauthorized(403, f"the API key of '{key.platform}' lacks the '{scope}' scope")
        return key

    return dependency


def field_errors_response(errors: list[tuple[str, str]], status: int = 422) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": f, "reason": r} for f, r in errors]}, status_code=status
    )


def submission_invalid_response(exc: SubmissionInvalid) -> JSONResponse:
    return field_errors_response([(exc.field, exc.reason)])
