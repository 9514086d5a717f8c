"""Platforms' Kafka submissions as requests to admit: each record's signature checked
against its platform's secrets (read once for the poll's signers), so that a record
that is not its platform's own, or not recent, is refused before anything else."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from yiwang.common.envelope import Envelope
from yiwang.common.events import SubmitCase
from yiwang.common.signatures import SIGNER_HEADER, header_text
from yiwang.intake.adapters.raw_records import position
from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.batch import SubmissionRequest
from yiwang.intake.domain.platforms import check_signature, unsigned
from yiwang.intake.domain.submission import SubmissionInvalid


class Secrets(Protocol):
    """Where platforms' signing secrets are (`adapters.signing_secrets.SigningSecretStore`)."""

    async def secrets_of(
        self, signers: Iterable[str], *, now: datetime
    ) -> Mapping[str, Mapping[str, str]]: ...


async def signed_requests(
    envelopes: Sequence[Envelope[SubmitCase]],
    records: Sequence[Any | None],
    *,
    signing: Secrets,
    now: datetime,
) -> list[SubmissionRequest]:
    """One request per envelope (with its raw record, None where it was not found):
    idempotent on (source system, external id) as over HTTP, kept for the system that
    signed it; refused (`yiwang-signature`) when the signature does not hold."""
    headers = [header_text(r.headers) if r is not None else {} for r in records]
    known = await signing.secrets_of({h.get(SIGNER_HEADER, "") for h in headers} - {""}, now=now)
    requests = []
    for envelope, record, signed in zip(envelopes, records, headers, strict=True):
        source = envelope.payload.source
        refusal: SubmissionInvalid | None = None
        try:
            if record is None:
                raise unsigned("the record's bytes were not available to check")
            check_signature(
                signed, value=record.value or b"", key=record.key or b"", ce_id=envelope.id,
                system=source.system, now=now, secrets_of=lambda signer: known.get(signer, {}),
            )  # fmt: skip
        except SubmissionInvalid as exc:
            refusal = exc
        requests.append(
            SubmissionRequest(
                envelope.payload,
                idempotency=IdempotencyKey(f"source:{source.system}", source.external_id),
                record=envelope,
                submitted_by=source.system,
                actor=f"platform:{source.system}",
                refusal=refusal,
                position=position(record) if record is not None else None,
            )
        )
    return requests


async def check_undecodable(
    record: Any, *, system: str | None, signing: Secrets, now: datetime
) -> SubmissionInvalid | None:
    """A record that could not be read as a submission: its signature refusal, if any
    (then its sender hears only that), else None (it hears the fields at fault)."""
    headers = header_text(record.headers)
    signer = headers.get(SIGNER_HEADER, "")
    known = await signing.secrets_of({signer} - {""}, now=now)
    try:
        check_signature(
            headers, value=record.value or b"", key=record.key or b"",
            ce_id=headers.get("ce_id", ""), system=system, now=now,
            secrets_of=lambda s: known.get(s, {}),
        )  # fmt: skip
    except SubmissionInvalid as exc:
        return exc
    return None
