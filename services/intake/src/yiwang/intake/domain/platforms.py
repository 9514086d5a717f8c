"""Platforms' signed Kafka submissions: a record counts only if the platform whose
system it submits as signed it, recently, and it was not seen before.

The signature (libs/common `signatures`) covers the record's value, key, `ce_id` and
when it was signed; the signer is the platform's system code and must be the record's
`source.system`. A refused record is answered on the rejection topic with the field
`yiwang-signature` and the reason (`unsigned`, `stale`, `bad_signature`, `unknown_key`,
`signer_mismatch`, `replayed`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from yiwang.common.signatures import SecretsOf, SignatureRefused, verify
from yiwang.intake.domain.submission import SubmissionInvalid

SIGNATURE_FIELD = "yiwang-signature"


class SignatureInvalid(SubmissionInvalid):
    """A platform's record that is not its own, or not now: refused, never admitted."""

    def __init__(self, reason: str, detail: str) -> None:
        self.code = reason
        super().__init__(SIGNATURE_FIELD, f"{reason}: {detail}")


class Redelivered(SubmissionInvalid):
    """The same record again (Kafka redelivers after a crash): it was dealt with once,
    and is neither admitted nor answered again."""

    def __init__(self, position: str) -> None:
        super().__init__("(record)", f"{position} was handled before")


def check_signature(
    headers: Mapping[str, str],
    *,
    value: bytes,
    key: bytes,
    ce_id: str,
    system: str | None,
    now: datetime,
    secrets_of: SecretsOf,
) -> str:
    """The signer, when it signed this record within the window and is `system`."""
    try:
        signed = verify(headers, value=value, key=key, ce_id=ce_id, now=now, secrets_of=secrets_of)
    except SignatureRefused as exc:
        raise SignatureInvalid(exc.reason, exc.detail) from None
    if system is not None and signed.signer != system:
        raise SignatureInvalid(
            "signer_mismatch",
            f"signed by '{signed.signer}', submitted as source.system '{system}'",
        )
    return signed.signer


def unsigned(detail: str) -> SignatureInvalid:
    return SignatureInvalid("unsigned", detail)


def replayed(ce_id: str) -> SignatureInvalid:
    return SignatureInvalid("replayed", f"a record with ce_id '{ce_id}' was taken before")
