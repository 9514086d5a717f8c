"""What every request passes before any route sees it: a body size limit, and bodies and
query strings a handler could not safely take.

Refused with 400 or 413 problem details naming the field (`(body)` or the parameter):
- a body over the service's limit (`YIWANG_MAX_BODY_BYTES`, 64 KiB by default);
- JSON or XML nested deeper than `MAX_DEPTH` (thousands deep exhaust the parser's stack);
- a NUL character, raw or escaped (`\\u0000`): PostgreSQL text cannot hold it;
- a lone UTF-16 surrogate escape (`\\ud800` without its pair) or bytes that are not UTF-8:
  they cannot be stored or shown as text.
The body is read once here and replayed to the application unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yiwang.common.problems import FieldError, problem_response

MAX_DEPTH = 32
DEFAULT_MAX_BODY = 64 * 1024
# \uD800-\uDBFF must be followed by \uDC00-\uDFFF; a low surrogate alone is as bad.
_SURROGATES = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_NUL_ESCAPE = re.compile(rb"\\u0000")


class Refused(Exception):
    def __init__(self, status: int, field: str, reason: str) -> None:
        self.status = status
        self.field = field
        self.reason = reason
        super().__init__(reason)


_XML_TAG = re.compile(rb"<(/?)([^<>]*?)(/?)>")


def check_depth(body: bytes, *, limit: int = MAX_DEPTH) -> None:
    """JSON arrays and objects, or XML elements, nested deeper than `limit`."""
    if body.lstrip()[:1] == b"<":
        _check_xml_depth(body, limit)
        return
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                raise Refused(400, "(body)", f"JSON nested deeper than {limit} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _check_xml_depth(body: bytes, limit: int) -> None:
    depth = 0
    for tag in _XML_TAG.finditer(body):
        closing, name, empty = tag.groups()
        if closing:
            depth -= 1
        elif name[:1] not in (b"?", b"!") and not empty:
            depth += 1
            if depth > limit:
                raise Refused(400, "(body)", f"XML nested deeper than {limit} elements")


def check_text(raw: bytes, field: str) -> None:
    if b"\x00" in raw or _NUL_ESCAPE.search(raw):
        raise Refused(400, field, "contains a NUL character, which text cannot hold")
    if _SURROGATES.search(raw):
        raise Refused(400, field, "contains a lone UTF-16 surrogate, which is not a character")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, field, "is not valid UTF-8") from None


def check_query(query: bytes) -> None:
    if not query:
        return
    # Percent-decoded as latin-1, so each value's bytes come back exactly, to check as UTF-8.
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for name, value in pairs:
        raw = value.encode("latin-1", errors="replace")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, name, "is not valid UTF-8") from None
        if "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text):
            raise Refused(400, name, "contains a character text cannot hold (NUL or a surrogate)")


class InputGuard:
    """ASGI middleware; `exempt` paths (file uploads and the like) skip the text checks."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY, exempt: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_query(scope.get("query_string", b""))
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise Refused(413, "(body)", f"request body is larger than {self.max_bytes} bytes")
            body = await self._read(receive)
            if body and not scope["path"].startswith(self.exempt):
                kind = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
                if kind == b"application/x-www-form-urlencoded":
                    check_query(body)  # percent-encoded: the same checks as a query string
                elif kind != b"multipart/form-data":
                    check_text(body, "(body)")
                    check_depth(body)
        except Refused as refused:
            response = problem_response(
                refused.status,
                detail=f"{refused.field}: {refused.reason}",
                errors=[FieldError(refused.field, refused.reason)],
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                raise Refused(413, "(body)", f"request body is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """The body as one message; after it, the connection's own messages (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
