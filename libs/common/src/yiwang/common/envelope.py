"""CloudEvents 1.0 Kafka protocol binding, binary content mode.

Attributes travel as `ce_*` headers, the payload is the record value as JSON, and the
record key is the case id so that one case's events stay ordered on one partition.
The W3C `traceparent` header carries the trace across services.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import ValidationError
from yiwang.common.events import EVENT_TYPES, Event

E = TypeVar("E", bound=Event)

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_ATTRIBUTES = ("id", "source", "type", "specversion")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Envelope(Generic[E]):
    """An event with its CloudEvents attributes."""

    payload: E
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None

    @property
    def type(self) -> str:
        return self.payload.event_type

    @property
    def subject(self) -> str:
        return self.payload.subject


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


class UndecodableRecord(ValueError):
    """A record that cannot become an Envelope: it belongs in the dead-letter topic."""

    def __init__(
        self,
        reason: str,
        *,
        event_type: str | None = None,
        field_errors: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.reason = reason
        # Set when the type is known but the payload is invalid: which fields, and why.
        self.event_type = event_type
        self.field_errors = field_errors
        super().__init__(reason)


def encode(envelope: Envelope[Event], *, topic: str) -> KafkaRecord:
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", envelope.time.astimezone(UTC).isoformat().encode()),
        ("ce_subject", envelope.subject.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if envelope.traceparent:
        headers.append(("traceparent", envelope.traceparent.encode()))
    return KafkaRecord(
        topic=topic,
        key=envelope.subject.encode(),
        value=envelope.payload.model_dump_json().encode(),
        headers=headers,
    )


def header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers or ():
        try:
            out[name] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError:
            out[name] = raw.hex()
    return out


def decode(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] | None,
    *,
    known_types: Mapping[str, type[Event]] = EVENT_TYPES,
) -> Envelope[Event]:
    """Turn a record into an Envelope, or raise UndecodableRecord saying why."""
    attrs = header_map(headers)
    missing = [a for a in REQUIRED_ATTRIBUTES if not attrs.get(f"ce_{a}")]
    if missing:
        raise UndecodableRecord(
            f"missing CloudEvents header(s): {', '.join('ce_' + m for m in missing)}"
        )
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise UndecodableRecord(f"unsupported ce_specversion '{attrs['ce_specversion']}'")
    content_type = attrs.get("content-type", CONTENT_TYPE)
    if not content_type.startswith(CONTENT_TYPE):
        raise UndecodableRecord(f"unsupported content-type '{content_type}'")
    model = known_types.get(attrs["ce_type"])
    if model is None:
        raise UndecodableRecord(f"unknown ce_type '{attrs['ce_type']}'")
    if value is None:
        raise UndecodableRecord("empty record value")
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableRecord(f"value is not JSON: {exc}") from None
    try:
        payload = model.model_validate(body)
    except ValidationError as exc:
        raise UndecodableRecord(
            f"invalid {attrs['ce_type']}: {describe_validation_error(exc)}",
            event_type=attrs["ce_type"],
            field_errors=field_errors(exc),
        ) from None
    return Envelope(
        payload=payload,
        source=attrs["ce_source"],
        id=attrs["ce_id"],
        time=_parse_time(attrs.get("ce_time")),
        traceparent=attrs.get("traceparent"),
    )


def field_errors(exc: ValidationError) -> tuple[tuple[str, str], ...]:
    """(field, reason) pairs, e.g. ("location.lat", "Input should be less than or equal to 90")."""
    return tuple(
        (".".join(str(p) for p in err["loc"]) or "(body)", err["msg"].removeprefix("Value error, "))
        for err in exc.errors()
    )


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line: `location.lat: Input should be less than or equal to 90; ...`."""
    return "; ".join(f"{where}: {reason}" for where, reason in field_errors(exc))


def _parse_time(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UndecodableRecord(f"ce_time '{raw}' is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
