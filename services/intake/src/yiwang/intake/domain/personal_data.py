"""A reporter's personal data after admission: unsealed only for a reason and always
audited, and erased when its time is up or the resident asks.

Erasure takes away everything sealed (name, phone, ID number, e-mail, the unscrubbed
title and description) and the masked values; the case keeps its scrubbed text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Action(StrEnum):
    UNSEAL_PHONE = "unseal_phone"  # a hotline operator's call-back
    ERASE = "erase"  # a resident's erasure request


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One unseal or erasure: who, when, which case, why."""

    access_id: uuid.UUID
    case_id: uuid.UUID
    actor: str
    action: Action
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReporterSeal:
    """What a call-back reads of a case's reporter."""

    reporter_id: uuid.UUID
    anonymous: bool
    name_masked: str | None
    phone_sealed: bytes | None
    erased_at: datetime | None


class NoPhoneOnRecord(LookupError):
    status = 404
    field = "phone"


class PersonalDataErased(LookupError):
    status = 410
    field = "phone"


def check_callable(reporter: ReporterSeal | None, case_number: str) -> bytes:
    """The sealed phone of a reporter who can be called back."""
    if reporter is not None and reporter.erased_at is not None:
        raise PersonalDataErased(
            f"the personal data of {case_number} was erased on {reporter.erased_at:%Y-%m-%d}"
        )
    if reporter is None or reporter.anonymous or reporter.phone_sealed is None:
        raise NoPhoneOnRecord(f"the reporter of {case_number} left no phone number")
    return reporter.phone_sealed


def retention_cutoff(now: datetime, *, days: int) -> datetime:
    """Cases that ended before this have their personal data erased."""
    return now - timedelta(days=days)
