"""The CloudEvents Kafka binding, checked against the official CloudEvents Python SDK."""

from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.kafka import (
    KafkaMessage,
    from_binary_event,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent
from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.envelope import Envelope, UndecodableRecord, decode, encode
from yiwang.common.events import CaseReceived

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def a_case_received() -> CaseReceived:
    return CaseReceived(
        case_id="0f8e2a6c-case",
        case=CaseFacts(
            case_id="0f8e2a6c-case",
            case_number="LZ-20261121-0001",
            category="fire-hazard",
            title="楼道堆放杂物",
            description="3号楼2单元楼道堆满纸箱，堵塞消防通道",
            priority=Priority.URGENT,
            channel=Channel.GRID_WORKER,
            location=Location(lon=112.56, lat=37.87),
        ),
        received_at=datetime(2026, 11, 21, 8, 30, tzinfo=UTC),
    )


def test_record_is_read_by_the_official_sdk() -> None:
    envelope = Envelope(payload=a_case_received(), source="/yiwang/intake", traceparent=TRACEPARENT)
    record = encode(envelope, topic="case.received.v1")

    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = from_binary_event(message)

    assert event.get_specversion() == "1.0"
    assert event.get_id() == envelope.id
    assert event.get_source() == "/yiwang/intake"
    assert event.get_type() == "yiwang.case.received.v1"
    assert event.get_subject() == "0f8e2a6c-case"
    assert event.get_time() == envelope.time
    assert event.get_datacontenttype() == "application/json"
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["case"]["case_number"] == "LZ-20261121-0001"
    assert data["case"]["title"] == "楼道堆放杂物"
    assert record.key == b"0f8e2a6c-case"
    assert dict(record.headers)["traceparent"] == TRACEPARENT.encode()
    assert dict(record.headers)["content-type"] == b"application/json"


def test_record_written_by_the_sdk_is_decoded() -> None:
    payload = a_case_received().model_dump(mode="json")
    event = CloudEvent(
        attributes={
            "type": "yiwang.case.received.v1",
            "source": "/county-platform/x",
            "subject": "0f8e2a6c-case",
            "datacontenttype": "application/json",
        },
        data=payload,
    )
    message = to_binary_event(event)
    headers = list(message.headers.items())
    decoded = decode(message.value, headers)
    assert isinstance(decoded.payload, CaseReceived)
    assert decoded.id == event.get_id()
    assert decoded.source == "/county-platform/x"
    assert decoded.payload.case.category == "fire-hazard"


def test_round_trip_keeps_everything() -> None:
    envelope = Envelope(payload=a_case_received(), source="/yiwang/intake", traceparent=TRACEPARENT)
    record = encode(envelope, topic="case.received.v1")
    back = decode(record.value, record.headers)
    assert back.payload == envelope.payload
    assert (back.id, back.source, back.time, back.traceparent) == (
        envelope.id,
        envelope.source,
        envelope.time,
        TRACEPARENT,
    )


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [], "missing CloudEvents header"),
        (
            b"not json",
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"yiwang.case.received.v1"),
            ],
            "not JSON",
        ),
        (
            b"{}",
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"yiwang.nope.v9"),
            ],
            "unknown ce_type",
        ),
        (
            b'{"case_id": "x"}',
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"yiwang.case.received.v1"),
            ],
            "invalid yiwang.case.received.v1: case: Field required",
        ),
        (
            b"{}",
            [
                ("ce_specversion", b"0.3"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"yiwang.case.received.v1"),
            ],
            "unsupported ce_specversion",
        ),
    ],
)
def test_undecodable_records_say_why(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(UndecodableRecord, match=reason):
        decode(value, headers)


def test_an_invalid_payload_of_a_known_type_names_its_fields() -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_source", b"/x"),
        ("ce_type", b"yiwang.case.received.v1"),
    ]
    with pytest.raises(UndecodableRecord) as caught:
        decode(b'{"case_id": "x"}', headers)
    assert caught.value.event_type == "yiwang.case.received.v1"
    assert ("case", "Field required") in caught.value.field_errors


def test_record_names_its_schema() -> None:
    record = encode(Envelope(payload=a_case_received(), source="/yiwang/intake"), topic="t")
    assert dict(record.headers)["ce_dataschema"] == b"urn:yiwang:schema:yiwang.case.received.v1"


def test_structured_mode_record_written_by_the_sdk_is_decoded() -> None:
    event = CloudEvent(
        attributes={
            "type": "yiwang.case.received.v1",
            "source": "/county-platform/x",
            "subject": "0f8e2a6c-case",
            "datacontenttype": "application/json",
            "traceparent": TRACEPARENT,
        },
        data=a_case_received().model_dump(mode="json"),
    )
    message = to_structured_event(event)
    headers = list(message.headers.items())
    assert dict(message.headers)["content-type"].startswith(b"application/cloudevents+json")

    decoded = decode(message.value, headers)

    assert isinstance(decoded.payload, CaseReceived)
    assert decoded.payload == a_case_received()
    assert (decoded.id, decoded.source, decoded.traceparent) == (
        event.get_id(),
        "/county-platform/x",
        TRACEPARENT,
    )
    assert decoded.time == event.get_time()


def test_binary_and_structured_modes_give_the_same_envelope() -> None:
    event = CloudEvent(
        attributes={"type": "yiwang.case.received.v1", "source": "/p", "subject": "s"},
        data=a_case_received().model_dump(mode="json"),
    )
    binary, structured = to_binary_event(event), to_structured_event(event)
    one = decode(binary.value, list(binary.headers.items()))
    other = decode(structured.value, list(structured.headers.items()))
    assert (one.payload, one.id, one.source, one.time) == (
        other.payload,
        other.id,
        other.source,
        other.time,
    )


@pytest.mark.parametrize(
    ("value", "content_type", "reason"),
    [
        (b"not json", b"application/cloudevents+json", "structured CloudEvent is not JSON"),
        (b"[1]", b"application/cloudevents+json", "not a JSON object"),
        (b"{}", b"application/cloudevents+avro", "unsupported structured content-type"),
        (
            b'{"specversion": "1.0", "id": "1", "source": "/x", '
            b'"type": "yiwang.case.received.v1", "data_base64": "e30="}',
            b"application/cloudevents+json",
            "data_base64",
        ),
        (
            b'{"specversion": "1.0", "source": "/x", "type": "yiwang.case.received.v1"}',
            b"application/cloudevents+json",
            "missing CloudEvents header\\(s\\): ce_id",
        ),
    ],
)
def test_undecodable_structured_records_say_why(
    value: bytes, content_type: bytes, reason: str
) -> None:
    with pytest.raises(UndecodableRecord, match=reason):
        decode(value, [("content-type", content_type)])


def test_values_the_json_parser_refuses_are_read_as_json_reads_them() -> None:
    """A byte-order mark, UTF-16 or a lone surrogate: the one-pass parser refuses them,
    json reads them, and decode decides as before (accepted, or refused by field)."""
    envelope = Envelope(payload=a_case_received(), source="/test")
    record = encode(envelope, topic="t")
    body = record.value.decode()
    for value in (b"\xef\xbb\xbf" + record.value, body.encode("utf-16")):
        assert decode(value, record.headers).payload == envelope.payload
    surrogate = body.replace("楼道堆放杂物", "\\ud800", 1).encode()
    with pytest.raises(UndecodableRecord) as refused:
        decode(surrogate, record.headers)
    assert refused.value.event_type == CaseReceived.event_type
    assert [where for where, _ in refused.value.field_errors] == ["case.title"]


def test_a_value_that_is_not_json_or_too_deep_is_undecodable() -> None:
    record = encode(Envelope(payload=a_case_received(), source="/test"), topic="t")
    for value in (b"{not json", b"[" * 100_000):
        with pytest.raises(UndecodableRecord, match="value is not JSON"):
            decode(value, record.headers)
