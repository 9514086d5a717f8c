"""Department identity from credentials: API keys (HTTP) and HMAC signatures (Kafka).

API keys are random tokens (made in handlers/credentials.py); only their SHA-256 is
stored (a 256-bit random token needs no slow hash). Kafka replies are signed with
HMAC-SHA256 over the exact record value, with a per-department secret derived from the
service's signing key, so a sender cannot claim another department by typing its code.
"""

from __future__ import annotations

import hashlib
import hmac

from yiwang.common.departments import Department

DEPARTMENT_HEADER = "yiwang-department"
SIGNATURE_HEADER = "yiwang-signature"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The API key of an `Authorization: Bearer <key>` header."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def department_of(principal: str | None) -> Department | None:
    """The department an API key belongs to; None for a township's key or no key."""
    return Department(principal) if principal in set(Department) else None


def department_secret(signing_key: str, department: Department) -> str:
    """The secret a department signs its Kafka replies with (given to it out of band)."""
    return hmac.new(
        signing_key.encode(), f"dept-reply:{department.value}".encode(), hashlib.sha256
    ).hexdigest()


def sign(secret: str, value: bytes) -> str:
    """Hex HMAC-SHA256 of the record value, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), value, hashlib.sha256).hexdigest()


def signed_department(
    *, signing_key: str, claimed: str | None, signature: str | None, value: bytes
) -> Department | None:
    """The department that provably signed `value`, or None (unknown, unsigned or forged)."""
    if not claimed or not signature:
        return None
    try:
        department = Department(claimed)
    except ValueError:
        return None
    expected = sign(department_secret(signing_key, department), value)
    return department if hmac.compare_digest(expected, signature.strip().lower()) else None
