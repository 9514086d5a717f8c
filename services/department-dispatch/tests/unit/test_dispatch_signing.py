"""Signed department replies on Kafka, per-department secrets with rotation, the vault
that seals them, and the API keys that make machine actors."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from dispatch_fakes import FakeDispatchUnitOfWork
from test_dispatch_domain import CIVIL, HOUSING
from test_dispatch_handlers import clock, dispatched, order_of
from yiwang.common.auth import Role
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope, encode, header_map
from yiwang.common.events import CaseStateChanged, DepartmentReplied
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.settings import SecretRefused
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.signing import sign_reply_record, signing_vault
from yiwang.department_dispatch.config import DEV_SIGNING_KEY, DispatchSettings
from yiwang.department_dispatch.domain.credentials import hash_api_key

WALL = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


K1 = key()
VAULT = PersonalDataVault(f"k1:{K1}")


def settings(signing_key: str, env: str = "production") -> DispatchSettings:
    return DispatchSettings.model_validate(
        {"YIWANG_DISPATCH_SIGNING_KEY": signing_key, "YIWANG_ENV": env}
    )


def reply_to(order_id: str, kind: str = "acknowledge", reply_id: str = "r1") -> DepartmentReplied:
    return DepartmentReplied.model_validate(
        {"case_id": "c1", "work_order_id": order_id, "reply_id": reply_id, "kind": kind}
    )


def signed(
    reply: DepartmentReplied,
    secret: handlers.SigningSecret,
    *,
    signer: str | None = None,
    at: datetime = WALL,
    ce_id: str | None = None,
) -> handlers.SignedRecord:
    envelope = Envelope(
        payload=reply, source="/departments/test", **({"id": ce_id} if ce_id else {})
    )
    record = sign_reply_record(
        encode(envelope, topic="dept.replies.v1"),
        department=signer or secret.department,
        credential=secret.credential,
        at=at,
    )
    return handlers.SignedRecord(header_map(record.headers), record.value, record.key, envelope.id)


async def take(
    uow: FakeDispatchUnitOfWork,
    reply: DepartmentReplied,
    record: handlers.SignedRecord,
    *,
    wall: datetime = WALL,
) -> handlers.ReplyOutcome:
    return await handlers.take_signed_reply(
        uow=uow, reply=reply, record=record, vault=VAULT, clock=clock, wall_clock=ManualClock(wall)
    )


async def secret_of(uow: FakeDispatchUnitOfWork, department: str) -> handlers.SigningSecret:
    return await handlers.current_signing_secret(
        uow=uow, vault=VAULT, department=department, wall_clock=ManualClock(WALL)
    )


async def test_a_signed_reply_is_applied_and_its_replay_changes_nothing() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    civil = await secret_of(uow, CIVIL)
    assert await secret_of(uow, CIVIL) == civil  # made once, then the same
    ack = reply_to(order_of(uow, CIVIL))
    record = signed(ack, civil)
    assert (await take(uow, ack, record)).applied
    assert uow.repository.reply_actors[(CIVIL, "r1")] == "department-system:civil-affairs"
    [entry] = [e for e in uow.committed_of(CaseStateChanged) if e.to_state == "acknowledged"]  # type: ignore[attr-defined]
    assert entry.actor == "civil-affairs"  # type: ignore[attr-defined]
    replayed = await take(uow, ack, record, wall=WALL + timedelta(minutes=1))
    assert (replayed.applied, replayed.reason) == (False, "redelivered")
    assert uow.repository.rejections == []


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("unsigned", "unsigned"),
        ("stale", "stale"),
        ("future", "from_the_future"),
        ("unknown_key", "unknown_key"),
        ("other_department", "bad_signature"),
        ("value", "bad_signature"),
        ("key", "bad_signature"),
        ("ce_id", "bad_signature"),
        ("not_a_department", "unknown_key"),
    ],
)
async def test_a_reply_whose_signature_does_not_hold_is_refused_and_audited(
    tamper: str, reason: str
) -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    civil, housing = await secret_of(uow, CIVIL), await secret_of(uow, HOUSING)
    ack = reply_to(order_of(uow, CIVIL))
    record = signed(ack, civil)
    if tamper == "unsigned":
        record = handlers.SignedRecord({}, record.value, record.key, record.ce_id)
    elif tamper == "stale":
        record = signed(ack, civil, at=WALL - timedelta(minutes=6))
    elif tamper == "future":
        record = signed(ack, civil, at=WALL + timedelta(minutes=2))
    elif tamper == "unknown_key":
        record = signed(ack, handlers.SigningSecret(CIVIL, "k-nope", civil.secret))
    elif tamper == "other_department":  # housing's secret, claiming to be civil affairs
        record = signed(ack, handlers.SigningSecret(CIVIL, civil.key_id, housing.secret))
    elif tamper == "value":
        record = handlers.SignedRecord(
            record.headers, record.value + b" ", record.key, record.ce_id
        )
    elif tamper == "key":
        record = handlers.SignedRecord(record.headers, record.value, b"c2", record.ce_id)
    elif tamper == "ce_id":
        record = handlers.SignedRecord(record.headers, record.value, record.key, "another-id")
    elif tamper == "not_a_department":
        record = signed(ack, civil, signer="the-moon")
    outcome = await take(uow, ack, record)
    assert (outcome.applied, outcome.reason) == (False, reason)
    [audited] = uow.repository.rejections
    assert (audited.reason, audited.security, audited.channel, audited.actor) == (
        reason,
        True,
        "kafka",
        None,
    )
    assert uow.repository.cases["c1"].state == "dispatched"
    # A refused record takes no place in the inbox: the genuine one with its ce_id applies.
    genuine = signed(ack, civil, ce_id=record.ce_id if tamper != "ce_id" else None)
    assert (await take(uow, ack, genuine)).applied


async def test_a_rotation_keeps_the_old_secret_for_the_overlap_and_one_department_only() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    old, housing = await secret_of(uow, CIVIL), await secret_of(uow, HOUSING)
    new, ended = await handlers.rotate_signing_secret(
        uow=uow,
        vault=VAULT,
        department=CIVIL,
        overlap=timedelta(hours=2),
        wall_clock=ManualClock(WALL),
    )
    assert new.key_id != old.key_id
    assert new.secret != old.secret
    assert [(e.key_id, e.valid_until) for e in ended] == [(old.key_id, WALL + timedelta(hours=2))]
    assert await secret_of(uow, CIVIL) == new
    assert await secret_of(uow, HOUSING) == housing  # housing did not rotate
    lead, helper = order_of(uow, CIVIL), order_of(uow, HOUSING)
    hour = WALL + timedelta(hours=1)
    ack = reply_to(lead, reply_id="r-old")
    assert (await take(uow, ack, signed(ack, old, at=hour), wall=hour)).applied
    later = WALL + timedelta(hours=3)
    progress = reply_to(lead, "progress", reply_id="r-late")
    late = await take(uow, progress, signed(progress, old, at=later), wall=later)
    assert late.reason == "unknown_key"
    assert (await take(uow, progress, signed(progress, new, at=later), wall=later)).applied
    helper_ack = reply_to(helper, reply_id="r-h")
    assert (await take(uow, helper_ack, signed(helper_ack, housing, at=later), wall=later)).applied


async def test_secrets_are_sealed_and_resealed_under_a_new_master_key() -> None:
    uow = FakeDispatchUnitOfWork()
    civil = await secret_of(uow, CIVIL)
    [stored] = uow.repository.secrets.values()
    assert civil.secret.encode() not in stored.sealed
    rotated = PersonalDataVault(f"k2:{key()},k1:{K1}")  # a new master key first
    assert await handlers.reseal_signing_secrets(uow=uow, vault=rotated) == 1
    assert await handlers.reseal_signing_secrets(uow=uow, vault=rotated) == 0
    again = await handlers.current_signing_secret(
        uow=uow, vault=rotated, department=CIVIL, wall_clock=ManualClock(WALL)
    )
    assert again == civil


def test_the_master_key_is_refused_when_empty_or_the_development_default() -> None:
    with pytest.raises(SecretRefused, match="YIWANG_DISPATCH_SIGNING_KEY"):
        signing_vault(settings(DEV_SIGNING_KEY))
    with pytest.raises(SecretRefused, match="empty"):
        signing_vault(settings("  "))
    with pytest.raises(SecretRefused, match="passphrase"):
        signing_vault(settings("too-short"))
    with pytest.raises(SecretRefused):
        signing_vault(settings("k1:not-base64!"))
    assert signing_vault(settings(DEV_SIGNING_KEY, env="development")).key_ids == ("passphrase",)
    assert signing_vault(settings("x" * 32)).key_ids == ("passphrase",)
    assert signing_vault(settings(key())).key_ids == ("legacy",)
    assert signing_vault(settings(f"k2:{key()},k1:{key()}")).current == "k2"


async def test_an_api_key_is_a_machine_actor_bound_to_its_principal() -> None:
    uow = FakeDispatchUnitOfWork()
    department_key = await handlers.issue_api_key(uow=uow, principal="civil-affairs")
    township_key = await handlers.issue_api_key(uow=uow, principal="township:140302001")
    department = await handlers.actor_for_api_key(uow=uow, api_key=department_key)
    assert department is not None
    assert (department.roles, department.department, department.person) == (
        frozenset({Role.DEPARTMENT_SYSTEM}),
        "civil-affairs",
        False,
    )
    assert department.audit_name == "department-system:civil-affairs"
    assert department.id == f"key:{hash_api_key(department_key)[:16]}"
    township = await handlers.actor_for_api_key(uow=uow, api_key=township_key)
    assert township is not None
    assert (township.roles, township.township_code, township.audit_name) == (
        frozenset({Role.TOWNSHIP_SYSTEM}),
        "140302001",
        "township-system:140302001",
    )
    assert await handlers.actor_for_api_key(uow=uow, api_key="ywk_nope") is None
    assert await handlers.actor_for_api_key(uow=uow, api_key="x" * 10_000) is None
    await handlers.revoke_api_keys(uow=uow, principal="civil-affairs")
    assert await handlers.actor_for_api_key(uow=uow, api_key=department_key) is None
