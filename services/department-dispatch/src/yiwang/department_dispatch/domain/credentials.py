"""Who a machine credential belongs to: API keys (HTTP) of departments and townships, and
the departments' Kafka signing secrets (what is stored of them, and when each is valid).

API keys are random tokens (made in handlers/credentials.py); only their SHA-256 is
stored (a 256-bit random token needs no slow hash). A key belongs to a principal: a
department code (its department system) or `township:<code>` (a township's system).

Kafka replies are signed (yiwang.common.signatures) with a random per-department secret,
stored sealed; a department holds one current secret, and after a rotation its previous
ones stay valid until their `valid_until` (the overlap), so a department system can move
to the new secret without losing a reply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from yiwang.common.departments import Department

TOWNSHIP_PRINCIPAL = re.compile(r"^township:(\d{6,12})$")
MAX_OVERLAP = timedelta(days=30)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """What an API key belongs to: a department's system, or a township's."""

    department: Department | None = None
    township_code: str | None = None


def parse_principal(principal: str) -> Principal | None:
    """A department code, or township:<code>; None for anything else."""
    if principal in set(Department):
        return Principal(department=Department(principal))
    township = TOWNSHIP_PRINCIPAL.match(principal)
    return Principal(township_code=township.group(1)) if township else None


class SigningSecretRefused(ValueError):
    """An operator's request about signing secrets that cannot be done."""


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One signing secret of a department, as stored: sealed, with its validity."""

    department: Department
    key_id: str
    sealed: bytes
    created_at: datetime
    valid_until: datetime | None = None  # None: the current secret

    @property
    def current(self) -> bool:
        return self.valid_until is None

    def valid_at(self, at: datetime) -> bool:
        return self.valid_until is None or at < self.valid_until


def check_overlap(overlap: timedelta) -> timedelta:
    """How long the previous secret keeps signing after a rotation: 0 to 30 days."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise SigningSecretRefused(
            f"the overlap must be between 0 and {MAX_OVERLAP.days * 24} hours, not {overlap}"
        )
    return overlap


def seal_context(department: Department, key_id: str) -> bytes:
    """What a sealed secret is bound to: it cannot be moved to another department or id."""
    return f"dept-signing:{department.value}:{key_id}".encode()


def ends_on_rotation(
    secrets: list[StoredSecret], *, at: datetime, overlap: timedelta
) -> list[tuple[StoredSecret, datetime]]:
    """The secrets a rotation at `at` ends and when: the current one after the overlap, and
    any earlier one still valid past that (a rotation shortens, never lengthens)."""
    until = at + check_overlap(overlap)
    return [
        (s, until)
        for s in secrets
        if s.valid_at(at) and (s.valid_until is None or s.valid_until > until)
    ]
