"""CloudEvents 1.0 Kafka protocol binding.

Yiwang writes binary content mode: attributes travel as `ce_*` headers, the payload is the
record value as JSON, and the record key is the case id so that one case's events stay
ordered on one partition. The W3C `traceparent` header carries the trace across services,
and `ce_dataschema` names the payload's JSON Schema (docs/asyncapi/). Consumers also accept
structured content mode (`content-type: application/cloudevents+json`, the attributes and
`data` in the value), as the binding spec says they SHOULD.
"""

from __future__ import annotations

import contextlib
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
STRUCTURED_CONTENT_TYPE = "application/cloudevents"  # +json; +avro etc. are not accepted
SCHEMA_URN = "urn:yiwang:schema:"
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


def dataschema(event_type: str) -> str:
    """The `ce_dataschema` of a type: the `$id` of its schema in docs/asyncapi/schemas/."""
    return f"{SCHEMA_URN}{event_type}"


def encode(envelope: Envelope[Event], *, topic: str) -> KafkaRecord:
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", envelope.time.astimezone(UTC).isoformat().encode()),
        ("ce_subject", envelope.subject.encode()),
        ("ce_dataschema", dataschema(envelope.type).encode()),
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
    if attrs.get("content-type", "").startswith(STRUCTURED_CONTENT_TYPE):
        value, attrs = _from_structured(value, attrs)
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
    payload = _payload(model, value, event_type=attrs["ce_type"])
    return Envelope(
        payload=payload,
        source=attrs["ce_source"],
        id=attrs["ce_id"],
        time=_parse_time(attrs.get("ce_time")),
        traceparent=attrs.get("traceparent"),
    )


def _from_structured(value: bytes | None, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A structured-mode record as the binary-mode value and attributes decode() reads."""
    content_type = headers["content-type"]
    if not content_type.split(";")[0].strip().endswith("+json"):
        raise UndecodableRecord(f"unsupported structured content-type '{content_type}'")
    try:
        event = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableRecord(f"structured CloudEvent is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise UndecodableRecord("structured CloudEvent is not a JSON object")
    if "data_base64" in event:
        raise UndecodableRecord("structured CloudEvent with data_base64: JSON data expected")
    data_type = event.get("datacontenttype", CONTENT_TYPE)
    if not isinstance(data_type, str) or not data_type.startswith(CONTENT_TYPE):
        raise UndecodableRecord(f"unsupported datacontenttype '{data_type}'")
    attrs = {k: v for k, v in headers.items() if not k.startswith("ce_")}
    attrs["content-type"] = CONTENT_TYPE
    for name, attribute in event.items():
        if name != "data" and isinstance(attribute, str | int | bool):
            attrs[name if name == "traceparent" else f"ce_{name}"] = str(attribute)
    return json.dumps(event.get("data")).encode(), attrs


def field_errors(exc: ValidationError) -> tuple[tuple[str, str], ...]:
    """(field, reason) pairs, e.g. ("location.lat", "Input should be less than or equal to 90")."""
    return tuple(
        (".".join(str(p) for p in err["loc"]) or "(body)", err["msg"].removeprefix("Value error, "))
        for err in exc.errors()
    )


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line: `location.lat: Input should be less than or equal to 90; ...`."""
    return "; ".join(f"{where}: {reason}" for where, reason in field_errors(exc))


def _payload(model: type[Event], value: bytes, *, event_type: str) -> Event:
    """Parsed and validated in one pass (pydantic's JSON mode), half the time of json.loads
    then model_validate. A value it refuses is read again the old way, so the same records
    pass or fail, for the same reasons in the same words (pydantic's parser also refuses
    a byte-order mark, UTF-16 or lone surrogates, which json reads)."""
    with contextlib.suppress(ValidationError):
        return model.model_validate_json(value)
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UndecodableRecord(f"value is not JSON: {exc}") from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _invalid(event_type, exc) from None


def _invalid(event_type: str, exc: ValidationError) -> UndecodableRecord:
    return UndecodableRecord(
        f"invalid {event_type}: {describe_validation_error(exc)}",
        event_type=event_type,
        field_errors=field_errors(exc),
    )


def _parse_time(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UndecodableRecord(f"ce_time '{raw}' is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
