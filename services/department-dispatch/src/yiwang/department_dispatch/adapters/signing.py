"""Signed department replies on Kafka: the vault that seals the departments' secrets at
rest, and signing a reply record (the simulator, the tests and any Python sender).

A department's credential is `<key id>:<secret>`, as `cli signing-secret <department>`
prints it. A reply record carries four headers (yiwang.common.signatures): `yiwang-signer` (the
department code), `yiwang-key-id`, `yiwang-signed-at` (RFC 3339, UTC) and
`yiwang-signature`, the hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, of

    "v2\\n" + signed-at + "\\n" + ce_id + "\\n" + hex(record key) + "\\n" + hex(sha256(value))
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from yiwang.common.envelope import KafkaRecord
from yiwang.common.personal_data import PersonalDataVault, PiiKeyInvalid
from yiwang.common.settings import SecretRefused, check_secret
from yiwang.common.signatures import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
    SIGNER_HEADER,
    signature_headers,
)
from yiwang.department_dispatch.config import DEV_SIGNING_KEY, DispatchSettings

SETTING = "YIWANG_DISPATCH_SIGNING_KEY"
PASSPHRASE_KEY_ID = "passphrase"  # noqa: S105 (a key id, not a secret)
MIN_PASSPHRASE = 32
SIGNING_HEADERS = frozenset({SIGNER_HEADER, KEY_ID_HEADER, SIGNED_AT_HEADER, SIGNATURE_HEADER})


def signing_vault(settings: DispatchSettings) -> PersonalDataVault:
    """The vault that seals departments' signing secrets, from YIWANG_DISPATCH_SIGNING_KEY:
    `kid:base64,...` (the first seals), one base64 key of 32 bytes, or a passphrase of at
    least 32 characters (its SHA-256 is the key). Raises SecretRefused for an empty key, the
    development default outside development, or a malformed one."""
    raw = check_secret(
        settings, name=SETTING, value=settings.signing_key, development_values=(DEV_SIGNING_KEY,)
    ).strip()
    try:
        if ":" in raw:
            return PersonalDataVault(raw, setting=SETTING)
        try:
            return PersonalDataVault(raw, setting=SETTING)  # one bare base64 key
        except PiiKeyInvalid:
            pass
    except PiiKeyInvalid as exc:
        raise SecretRefused(str(exc)) from None
    if len(raw) < MIN_PASSPHRASE and not settings.development:
        raise SecretRefused(
            f"{SETTING} is neither keys (kid:base64 of 32 bytes) nor a passphrase of at least "
            f"{MIN_PASSPHRASE} characters"
        )
    key = hashlib.sha256(b"yiwang-dispatch-signing-key\0" + raw.encode()).digest()
    return PersonalDataVault({PASSPHRASE_KEY_ID: base64.b64encode(key).decode()}, setting=SETTING)


def parse_credential(credential: str) -> tuple[str, str]:
    """(key id, secret) of a credential as `cli signing-secret` prints it."""
    key_id, sep, secret = credential.strip().partition(":")
    if not sep or not key_id or not secret:
        raise ValueError("a signing credential reads '<key id>:<secret>'")
    return key_id, secret


def sign_reply_record(
    record: KafkaRecord, *, department: str, credential: str, at: datetime | None = None
) -> KafkaRecord:
    """The record (from yiwang.common.envelope.encode) with the department's signature
    headers, replacing any it had; `credential` is `<key id>:<secret>`; `at` is when it
    was signed (now by default)."""
    key_id, secret = parse_credential(credential)
    ce_id = next((v.decode() for k, v in record.headers if k == "ce_id"), "")
    signed = signature_headers(
        signer=department,
        key_id=key_id,
        secret=secret,
        value=record.value,
        key=record.key,
        ce_id=ce_id,
        at=at or datetime.now(UTC),
    )
    kept = [(k, v) for k, v in record.headers if k not in SIGNING_HEADERS]
    return KafkaRecord(record.topic, record.key, record.value, [*kept, *signed])
