"""Departments' Kafka signing secrets (issue, rotate, re-seal) and signed replies.

Secrets are random and per department, stored sealed with the vault of
YIWANG_DISPATCH_SIGNING_KEY (adapters/signing.py). Their validity is real time (the
signature window is), never the demo clock: `wall_clock` is the system clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from yiwang.common.auth import Role
from yiwang.common.clock import Clock, SystemClock
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.common.logs import get_logger
from yiwang.common.personal_data import PersonalDataVault, PiiKeyInvalid
from yiwang.common.signatures import SIGNER_HEADER, SignatureRefused, verify
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.credentials import (
    SigningSecretRefused,
    StoredSecret,
    ends_on_rotation,
    seal_context,
)
from yiwang.department_dispatch.handlers.replies import ReplyOutcome, record_rejection, take_in

log = get_logger(__name__)
WALL_CLOCK = SystemClock()
# The inbox of signed replies: a replay (a ce_id taken before) changes nothing.
REPLIES_CONSUMER = "department-dispatch/replies"


@dataclass(frozen=True)
class SigningSecret:
    department: Department
    key_id: str
    secret: str
    valid_until: datetime | None = None

    @property
    def credential(self) -> str:
        """What the department's system is given: `<key id>:<secret>`."""
        return f"{self.key_id}:{self.secret}"


@dataclass(frozen=True)
class SignedRecord:
    """What a consumed reply record carries for its signature check."""

    headers: Mapping[str, str]
    value: bytes
    key: bytes
    ce_id: str


def _new_secret(
    vault: PersonalDataVault, department: Department, now: datetime
) -> tuple[StoredSecret, str]:
    key_id = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    sealed = vault.seal(secret, context=seal_context(department, key_id))
    assert sealed is not None
    return StoredSecret(department, key_id, sealed, created_at=now), secret


def _open(vault: PersonalDataVault, stored: StoredSecret) -> str | None:
    try:
        return vault.open(stored.sealed, context=seal_context(stored.department, stored.key_id))
    except (PiiKeyInvalid, InvalidTag, ValueError) as exc:  # a master key not given, tampering
        log.error(
            "signing secret cannot be opened",
            department=stored.department,
            key_id=stored.key_id,
            error=f"{type(exc).__name__}: {exc}",
        )
        return None


async def current_signing_secret(
    *,
    uow: DispatchUnitOfWork,
    vault: PersonalDataVault,
    department: Department,
    wall_clock: Clock = WALL_CLOCK,
) -> SigningSecret:
    """The department's current secret, made on first use."""
    async with uow:
        held = await uow.dispatch.signing_secrets(department)
        current = next((s for s in held if s.current), None)
        if current is not None:
            secret = _open(vault, current)
            if secret is None:
                raise SigningSecretRefused(
                    f"the current signing secret of {department} ({current.key_id}) cannot be "
                    "opened with YIWANG_DISPATCH_SIGNING_KEY: give the key that sealed it too"
                )
            return SigningSecret(department, current.key_id, secret)
        fresh, secret = _new_secret(vault, department, wall_clock.now())
        if await uow.dispatch.add_signing_secret(fresh):
            return SigningSecret(department, fresh.key_id, secret)
    # Someone else made it meanwhile: theirs is the current one.
    return await current_signing_secret(
        uow=uow, vault=vault, department=department, wall_clock=wall_clock
    )


async def rotate_signing_secret(
    *,
    uow: DispatchUnitOfWork,
    vault: PersonalDataVault,
    department: Department,
    overlap: timedelta,
    wall_clock: Clock = WALL_CLOCK,
) -> tuple[SigningSecret, list[SigningSecret]]:
    """A new current secret for one department; its previous secrets stay valid for the
    overlap (no longer than they already were). The new one, and the ones that now end."""
    now = wall_clock.now()
    async with uow:
        held = await uow.dispatch.signing_secrets(department, lock=True)
        ending = ends_on_rotation(held, at=now, overlap=overlap)
        for stored, until in ending:
            await uow.dispatch.end_signing_secret(department, stored.key_id, valid_until=until)
        fresh, secret = _new_secret(vault, department, now)
        await uow.dispatch.add_signing_secret(fresh)
    ended = [SigningSecret(department, s.key_id, "", valid_until=until) for s, until in ending]
    return SigningSecret(department, fresh.key_id, secret), ended


async def reseal_signing_secrets(*, uow: DispatchUnitOfWork, vault: PersonalDataVault) -> int:
    """Seal every stored secret again under the vault's current key (after the master key
    rotated); how many were re-sealed."""
    count = 0
    async with uow:
        for stored in await uow.dispatch.all_signing_secrets():
            if vault.needs_reseal(stored.sealed):
                context = seal_context(stored.department, stored.key_id)
                sealed = vault.reseal(stored.sealed, context=context)
                assert sealed is not None
                await uow.dispatch.reseal_signing_secret(stored, sealed=sealed)
                count += 1
    return count


async def _valid_secrets(
    uow: DispatchUnitOfWork, vault: PersonalDataVault, signer: str, *, at: datetime
) -> dict[str, str]:
    """The secrets a signer may sign with at `at`, by key id; none for a non-department."""
    try:
        department = Department(signer)
    except ValueError:
        return {}
    valid = [s for s in await uow.dispatch.signing_secrets(department) if s.valid_at(at)]
    opened = {s.key_id: _open(vault, s) for s in valid}
    return {kid: secret for kid, secret in opened.items() if secret is not None}


async def take_signed_reply(
    *,
    uow: DispatchUnitOfWork,
    reply: DepartmentReplied,
    record: SignedRecord,
    vault: PersonalDataVault,
    clock: Clock,
    wall_clock: Clock = WALL_CLOCK,
) -> ReplyOutcome:
    """A reply from Kafka: its signer is the department it acts for, if the signature
    holds (value, key, ce_id and time; within five minutes); refused and audited if not.
    The inbox is written only for a verified record, so a forged record cannot take the
    ce_id of a genuine one; a verified ce_id seen before is a replay and changes nothing."""
    signer = record.headers.get(SIGNER_HEADER, "")
    async with uow:
        now = wall_clock.now()
        held = await _valid_secrets(uow, vault, signer, at=now)
        try:
            signed = verify(
                record.headers,
                value=record.value,
                key=record.key,
                ce_id=record.ce_id,
                now=now,
                secrets_of=lambda _: held,
            )
        except SignatureRefused as refused:
            rejected = replies.SignatureRejected(refused.reason, refused.detail)
            await record_rejection(
                uow=uow,
                reply=reply,
                rejected=rejected,
                sender=None,
                claimed=signer or None,
                channel="kafka",
                now=clock.now(),
            )
            return ReplyOutcome(
                applied=False, reason=rejected.code, detail=rejected.detail, rejection=rejected
            )
        if not await uow.first_delivery(consumer=REPLIES_CONSUMER, event_id=record.ce_id):
            log.info("reply already taken (redelivered or replayed)", ce_id=record.ce_id)
            return ReplyOutcome(applied=False, reason="redelivered")
        department = Department(signed.signer)
        sender = replies.Sender(
            department=department,
            name=department.value,
            audit_name=f"{Role.DEPARTMENT_SYSTEM.value}:{department.value}",
        )
        return await take_in(uow, reply, sender=sender, channel="kafka", now=clock.now())
