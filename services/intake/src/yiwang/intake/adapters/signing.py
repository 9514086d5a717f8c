"""Signing a platform's submissions, for the platforms' side: tools, the demo, tests and
benchmarks that publish `SubmitCase` on intake.submissions.v1.

    credential = "<key id>:<secret>"   # printed once by `cli issue-signing-secret <system>`
    record = signed_submission(command, credential=credential, topic="intake.submissions.v1")
    await producer.send_records([record])

The signer is the command's `source.system`, the one intake requires; the signature
(libs/common `signatures`) covers the record's value, key, ce_id and when it was signed,
and is good for five minutes. A platform written in another language signs the same
canonical string (see `yiwang.common.signatures`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from yiwang.common.envelope import Envelope, KafkaRecord, encode, header_map
from yiwang.common.events import Event, SubmitCase
from yiwang.common.signatures import signature_headers


def parse_credential(credential: str) -> tuple[str, str]:
    """(key id, secret) of a credential as `issue-signing-secret` prints it."""
    key_id, sep, secret = credential.strip().partition(":")
    if not sep or not key_id or not secret:
        raise ValueError("a signing credential reads '<key id>:<secret>'")
    return key_id, secret


def sign_record(
    record: KafkaRecord, *, signer: str, credential: str, at: datetime | None = None
) -> KafkaRecord:
    """The record with the signature headers of `signer` added (over its value, key and
    ce_id, signed `at`, by default now)."""
    key_id, secret = parse_credential(credential)
    ce_id = header_map(record.headers).get("ce_id", "")
    headers = signature_headers(
        signer=signer, key_id=key_id, secret=secret, value=record.value, key=record.key,
        ce_id=ce_id, at=at or datetime.now(UTC),
    )  # fmt: skip
    return replace(record, headers=[*record.headers, *headers])


def signed_submission(
    command: SubmitCase,
    *,
    credential: str,
    topic: str,
    source: str | None = None,
    traceparent: str | None = None,
    at: datetime | None = None,
) -> KafkaRecord:
    """A platform's SubmitCase as a CloudEvents record on `topic`, signed by its
    `source.system` with `credential`."""
    system = command.source.system
    envelope: Envelope[Event] = Envelope(
        payload=command, source=source or f"/{system}", traceparent=traceparent
    )
    return sign_record(encode(envelope, topic=topic), signer=system, credential=credential, at=at)
