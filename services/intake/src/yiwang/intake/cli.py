"""Operator commands: platforms' API keys and Kafka signing secrets, re-sealing personal
data under a new key, and erasing it.

    python -m yiwang.intake.cli issue-key --platform yq-12345 --scopes submit,read [--systems yq-12345,yq-app]
    python -m yiwang.intake.cli revoke-key <key_id>
    python -m yiwang.intake.cli list-keys
    python -m yiwang.intake.cli issue-signing-secret <system>
    python -m yiwang.intake.cli rotate-signing-secret <system> --overlap-hours 24
    python -m yiwang.intake.cli list-signing-secrets
    python -m yiwang.intake.cli reseal [--batch 500]
    python -m yiwang.intake.cli erase-personal-data --case <case number or id> [--reason ...]
    python -m yiwang.intake.cli erase-personal-data --closed-before 2024-01-01

A key or a signing secret is printed once, on stdout (scripts read it from there), and
stored only as a hash (keys) or sealed (secrets); anything else, log lines included,
goes to stderr (run_command sees to that).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import partial

from yiwang.common.bounds import FIRST_YEAR, LAST_YEAR
from yiwang.common.cli import CommandContext, CommandRefused, run_command
from yiwang.common.clock import SystemClock
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.settings import SecretRefused
from yiwang.intake import handlers
from yiwang.intake.adapters.api_keys import ApiKeyStore, check_codes, check_scopes
from yiwang.intake.adapters.signing_secrets import SecretExists, SigningSecretStore
from yiwang.intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from yiwang.intake.app import DEFINITION, pii_vault
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain.case import SHANGHAI
from yiwang.intake.handlers.personal_data import CaseUnknown

# When an operator issued or revoked a key is real time, whatever speed the service's
# simulated clock runs at.
CLOCK = SystemClock()
Command = Callable[[CommandContext], Awaitable[int]]


def vault_of(ctx: CommandContext) -> PersonalDataVault:
    assert isinstance(ctx.settings, IntakeSettings)
    try:
        return pii_vault(ctx.settings)
    except SecretRefused as exc:
        raise CommandRefused(str(exc)) from None


def operator() -> str:
    """Who ran a command, for the audit trail."""
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:unknown"


async def issue_key(
    ctx: CommandContext, *, platform: str, scopes: frozenset[str], systems: tuple[str, ...]
) -> int:
    store = ApiKeyStore(lambda: ctx.pool)
    key, presented = await store.issue(
        platform=platform, scopes=scopes, systems=systems, now=CLOCK.now()
    )
    print(presented)
    print(
        f"key {key.key_id} for {key.platform}, scopes {','.join(sorted(key.scopes))},"
        f" submits as {','.join(sorted(key.own_systems))}",
        file=sys.stderr,
    )
    return 0


async def revoke_key(ctx: CommandContext, *, key_id: str) -> int:
    if not await ApiKeyStore(lambda: ctx.pool).revoke(key_id=key_id, now=CLOCK.now()):
        raise CommandRefused(f"no active key '{key_id}'")
    print(f"revoked {key_id}")
    return 0


async def list_keys(ctx: CommandContext) -> int:
    for row in await ApiKeyStore(lambda: ctx.pool).list_keys():
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        systems = ",".join(row["systems"]) or row["platform"]
        print(
            f"{row['key_id']}  {row['platform']:24} {','.join(row['scopes']):12} "
            f"{systems:32} {state}"
        )
    return 0


async def issue_signing_secret(ctx: CommandContext, *, system: str) -> int:
    store = SigningSecretStore(lambda: ctx.pool, vault_of(ctx))
    try:
        print(await store.issue(system, now=CLOCK.now()))
    except SecretExists as exc:
        raise CommandRefused(str(exc)) from None
    print(f"signing secret for {system} (shown once: <key id>:<secret>)", file=sys.stderr)
    return 0


async def rotate_signing_secret(ctx: CommandContext, *, system: str, overlap_hours: float) -> int:
    store = SigningSecretStore(lambda: ctx.pool, vault_of(ctx))
    overlap = timedelta(hours=overlap_hours)
    print(await store.rotate(system, now=CLOCK.now(), overlap=overlap))
    print(
        f"new signing secret for {system}; the ones before it work until"
        f" {(CLOCK.now() + overlap).astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Asia/Shanghai)",
        file=sys.stderr,
    )
    return 0


async def list_signing_secrets(ctx: CommandContext) -> int:
    now = CLOCK.now()
    for s in await SigningSecretStore(lambda: ctx.pool, vault_of(ctx)).listed():
        until = f"until {s.expires_at:%Y-%m-%d %H:%M}Z" if s.expires_at else ""
        state = "active" if s.active(now) else "expired"
        print(f"{s.signer:24} {s.key_id:12} {s.created_at:%Y-%m-%d} {state} {until}".rstrip())
    return 0


async def reseal(ctx: CommandContext, *, batch: int) -> int:
    vault = vault_of(ctx)
    counts = await handlers.reseal(
        units=ctx.units_of_work(PostgresIntakeUnitOfWork), vault=vault, batch=batch
    )
    secrets = await SigningSecretStore(lambda: ctx.pool, vault).reseal()
    for table, done in counts.items():
        print(f"{table}: {done.values} values sealed again under '{vault.current}' ({done.rows} rows read)")  # fmt: skip
    print(f"signing_secrets: {secrets} values sealed again under '{vault.current}'")
    return 0


async def erase_case(ctx: CommandContext, *, ref: str, reason: str) -> int:
    try:
        view, erased = await handlers.erase_case(
            uow=ctx.units_of_work(PostgresIntakeUnitOfWork)(), ref=ref, actor=operator(),
            reason=reason, now=ctx.clock.now(),
        )  # fmt: skip
    except CaseUnknown as exc:
        raise CommandRefused(str(exc)) from None
    said = "erased" if erased else "already erased (nothing to do)"
    print(f"{view.case_number}: personal data {said}")
    return 0


async def erase_closed_before(ctx: CommandContext, *, before: datetime, batch: int) -> int:
    units = ctx.units_of_work(PostgresIntakeUnitOfWork)
    total = 0
    while True:
        done = await handlers.erase_ended(
            uow=units(), before=before, limit=batch, now=ctx.clock.now(), reason="request"
        )
        total += done
        if done < batch:
            break
    print(f"personal data of {total} cases closed before {before:%Y-%m-%d} erased")
    return 0


def _day(raw: str) -> datetime:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a date such as 2024-01-31") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"'{raw}' is not within {FIRST_YEAR}-{LAST_YEAR}")
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m yiwang.intake.cli")
    sub = top.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue-key", help="issue a key for an integrating platform")
    issue.add_argument("--platform", required=True)
    issue.add_argument("--scopes", default="submit,read", help="comma-separated: submit, read")
    issue.add_argument("--systems", default="", help="source.system codes it submits as")
    sub.add_parser("revoke-key", help="revoke a key by its id").add_argument("key_id")
    sub.add_parser("list-keys", help="list keys (never the keys themselves)")
    sub.add_parser("issue-signing-secret", help="a platform system's first Kafka signing secret").add_argument("system")  # fmt: skip
    rotate = sub.add_parser("rotate-signing-secret", help="a new signing secret; the old ones keep working for the overlap")  # fmt: skip
    rotate.add_argument("system")
    rotate.add_argument("--overlap-hours", type=float, default=24.0)
    sub.add_parser("list-signing-secrets", help="list signing secrets (never the secrets)")
    resealing = sub.add_parser("reseal", help="seal every sealed value again under the current key")  # fmt: skip
    resealing.add_argument("--batch", type=int, default=500)
    erase = sub.add_parser("erase-personal-data", help="erase reporters' personal data")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--case", help="a case number or id (a resident's erasure request)")
    which.add_argument("--closed-before", type=_day, help="every case closed before this day")
    erase.add_argument("--reason", default="the resident's erasure request")
    erase.add_argument("--batch", type=int, default=500)
    return top


def command_of(args: argparse.Namespace) -> Command:
    """The command `args` ask for, its arguments checked before the database is touched
    (ValueError says what is wrong)."""
    name = args.command
    if name in ("reseal", "erase-personal-data") and not 1 <= args.batch <= 10_000:
        raise ValueError("--batch must be between 1 and 10000")
    if name == "issue-key":
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
        check_scopes(scopes)
        check_codes([args.platform, *systems])
        return partial(issue_key, platform=args.platform, scopes=scopes, systems=systems)
    if name == "issue-signing-secret":
        check_codes([args.system])
        return partial(issue_signing_secret, system=args.system)
    if name == "rotate-signing-secret":
        check_codes([args.system])
        if not 0 <= args.overlap_hours <= 24 * 90:
            raise ValueError("--overlap-hours must be between 0 and 2160 (90 days)")
        return partial(rotate_signing_secret, system=args.system, overlap_hours=args.overlap_hours)
    if name == "reseal":
        return partial(reseal, batch=args.batch)
    if name == "erase-personal-data" and args.case:
        return partial(erase_case, ref=args.case, reason=args.reason)
    if name == "erase-personal-data":
        return partial(erase_closed_before, before=args.closed_before, batch=args.batch)
    if name == "revoke-key":
        return partial(revoke_key, key_id=args.key_id)
    return list_signing_secrets if name == "list-signing-secrets" else list_keys


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        command = command_of(args)
    except ValueError as exc:
        print(f"yiwang-intake: {exc}", file=sys.stderr)
        return 2
    return run_command(DEFINITION, command)


if __name__ == "__main__":
    sys.exit(main())
