"""Signed Kafka records from outside systems: department replies, platform submissions.

A sender signs with a secret only it and Yiwang hold. The signature covers the record's
value, its key, its `ce_id` and a timestamp header, so a valid signature cannot be moved
to another record, re-sent under a new id or kept for later:

    yiwang-signer     the sender: a department code, or a platform's system code
    yiwang-key-id     which of the sender's secrets signed (secrets rotate with an overlap)
    yiwang-signed-at  when, RFC 3339 UTC; refused when older than MAX_AGE (or from the future)
    yiwang-signature  hex HMAC-SHA256 of the canonical string below, keyed with the secret

    canonical = "v2\\n" + signed-at + "\\n" + ce_id + "\\n" + hex(key) + "\\n" + hex(sha256(value))

A record whose `ce_id` was taken before is a replay: the consumer's inbox refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SIGNER_HEADER = "yiwang-signer"
KEY_ID_HEADER = "yiwang-key-id"
SIGNED_AT_HEADER = "yiwang-signed-at"
SIGNATURE_HEADER = "yiwang-signature"
MAX_AGE = timedelta(minutes=5)
MAX_SKEW = timedelta(minutes=1)  # a sender's clock a little ahead is tolerated


class SignatureRefused(ValueError):
    """Why a signed record was not accepted; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


def canonical(*, value: bytes, key: bytes, ce_id: str, signed_at: str) -> bytes:
    digest = hashlib.sha256(value).hexdigest()
    return f"v2\n{signed_at}\n{ce_id}\n{key.hex()}\n{digest}".encode()


def sign(secret: str, *, value: bytes, key: bytes, ce_id: str, signed_at: str) -> str:
    message = canonical(value=value, key=key, ce_id=ce_id, signed_at=signed_at)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    *, signer: str, key_id: str, secret: str, value: bytes, key: bytes, ce_id: str, at: datetime
) -> list[tuple[str, bytes]]:
    """The headers a sender adds to its record."""
    signed_at = at.astimezone(UTC).isoformat()
    signature = sign(secret, value=value, key=key, ce_id=ce_id, signed_at=signed_at)
    return [
        (SIGNER_HEADER, signer.encode()),
        (KEY_ID_HEADER, key_id.encode()),
        (SIGNED_AT_HEADER, signed_at.encode()),
        (SIGNATURE_HEADER, signature.encode()),
    ]


@dataclass(frozen=True, slots=True)
class Signed:
    signer: str
    key_id: str


# The secrets a signer holds now, by key id (during a rotation, the old and the new).
SecretsOf = Callable[[str], Mapping[str, str]]


def verify(
    headers: Mapping[str, str],
    *,
    value: bytes,
    key: bytes,
    ce_id: str,
    now: datetime,
    secrets_of: SecretsOf,
) -> Signed:
    """The signer of a record, or SignatureRefused saying why not."""
    signer = headers.get(SIGNER_HEADER, "")
    key_id = headers.get(KEY_ID_HEADER, "")
    signed_at = headers.get(SIGNED_AT_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "").strip().lower()
    missing = [h for h, v in ((SIGNER_HEADER, signer), (KEY_ID_HEADER, key_id),
                              (SIGNED_AT_HEADER, signed_at), (SIGNATURE_HEADER, signature)) if not v]  # fmt: skip
    if missing:
        raise SignatureRefused("unsigned", f"missing header(s): {', '.join(missing)}")
    try:
        at = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureRefused(
            "bad_timestamp", f"{SIGNED_AT_HEADER} '{signed_at}' is not RFC 3339"
        ) from None
    if at.tzinfo is None:
        raise SignatureRefused("bad_timestamp", f"{SIGNED_AT_HEADER} needs a time zone")
    if at < now - MAX_AGE:
        raise SignatureRefused("stale", f"signed at {signed_at}, more than {MAX_AGE} ago")
    if at > now + MAX_SKEW:
        raise SignatureRefused(
            "from_the_future", f"signed at {signed_at}, ahead of {now.isoformat()}"
        )
    secret = secrets_of(signer).get(key_id)
    if secret is None:
        raise SignatureRefused("unknown_key", f"no current secret '{key_id}' for '{signer}'")
    expected = sign(secret, value=value, key=key, ce_id=ce_id, signed_at=signed_at)
    if not hmac.compare_digest(expected, signature):
        raise SignatureRefused("bad_signature", f"the signature does not match for '{signer}'")
    return Signed(signer, key_id)


def header_text(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in headers or () if v is not None}
