"""Operator commands: API keys for departments and townships, and Kafka signing secrets.

python -m yiwang.department_dispatch.cli issue-key civil-affairs
python -m yiwang.department_dispatch.cli issue-key township:140302001
python -m yiwang.department_dispatch.cli revoke-key civil-affairs
python -m yiwang.department_dispatch.cli signing-secret civil-affairs
python -m yiwang.department_dispatch.cli rotate-signing-secret civil-affairs --overlap-hours 24
python -m yiwang.department_dispatch.cli reseal-signing-secrets

`signing-secret` and `rotate-signing-secret` print one line, the department's current
signing credential `<key id>:<secret>` (made on first use); hand it to the department's
system.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from yiwang.common.cli import CommandContext, CommandRefused, run_command
from yiwang.common.departments import Department
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.settings import SecretRefused
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.signing import signing_vault
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.app import DEFINITION
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.domain.credentials import (
    MAX_OVERLAP,
    SigningSecretRefused,
    check_overlap,
    parse_principal,
)


def check_principal(principal: str) -> str:
    if parse_principal(principal) is not None:
        return principal
    raise argparse.ArgumentTypeError(
        f"'{principal}' is neither a department code ({', '.join(Department)}) nor township:<code>"
    )


def check_department(code: str) -> Department:
    if code in set(Department):
        return Department(code)
    raise argparse.ArgumentTypeError(
        f"'{code}' is not a department code ({', '.join(Department)}); signing secrets are "
        "for departments"
    )


def check_hours(raw: str) -> timedelta:
    try:
        return check_overlap(timedelta(hours=float(raw)))
    except (ValueError, OverflowError) as exc:
        limit = MAX_OVERLAP.days * 24
        raise argparse.ArgumentTypeError(f"hours from 0 to {limit}, not '{raw}' ({exc})") from None


def vault_of(ctx: CommandContext) -> PersonalDataVault:
    assert isinstance(ctx.settings, DispatchSettings)
    try:
        return signing_vault(ctx.settings)
    except SecretRefused as exc:
        raise CommandRefused(str(exc)) from None


async def issue_key(ctx: CommandContext, principal: str) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    # Shown once: only its hash is stored.
    print(await handlers.issue_api_key(uow=uow(), principal=principal))
    return 0


async def revoke_key(ctx: CommandContext, principal: str) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    print(f"revoked {await handlers.revoke_api_keys(uow=uow(), principal=principal)} key(s)")
    return 0


async def signing_secret(ctx: CommandContext, department: Department) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    try:
        current = await handlers.current_signing_secret(
            uow=uow(), vault=vault_of(ctx), department=department
        )
    except SigningSecretRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(current.credential)
    return 0


async def rotate_signing_secret(
    ctx: CommandContext, department: Department, overlap: timedelta
) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    fresh, ended = await handlers.rotate_signing_secret(
        uow=uow(), vault=vault_of(ctx), department=department, overlap=overlap
    )
    for old in ended:
        until = old.valid_until.isoformat() if old.valid_until else "now"
        print(f"{department}: {old.key_id} signs until {until}", file=sys.stderr)
    print(fresh.credential)
    return 0


async def reseal_signing_secrets(ctx: CommandContext) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    count = await handlers.reseal_signing_secrets(uow=uow(), vault=vault_of(ctx))
    print(f"re-sealed {count} signing secret(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m yiwang.department_dispatch.cli")
    commands = main.add_subparsers(dest="command", required=True)
    for name, what in (("issue-key", "issue an API key"), ("revoke-key", "revoke its keys")):
        command = commands.add_parser(name, help=what)
        command.add_argument(
            "principal", type=check_principal, help="department code or township:<code>"
        )
    secret = commands.add_parser(
        "signing-secret", help="print a department's current Kafka signing secret"
    )
    secret.add_argument("department", type=check_department)
    rotate = commands.add_parser(
        "rotate-signing-secret",
        help="make a new current secret; the previous one signs for the overlap",
    )
    rotate.add_argument("department", type=check_department)
    rotate.add_argument("--overlap-hours", type=check_hours, default=timedelta(hours=24))
    commands.add_parser(
        "reseal-signing-secrets",
        help="seal every secret again under the first key of YIWANG_DISPATCH_SIGNING_KEY",
    )
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "issue-key":
        return run_command(DEFINITION, lambda ctx: issue_key(ctx, args.principal))
    if args.command == "revoke-key":
        return run_command(DEFINITION, lambda ctx: revoke_key(ctx, args.principal))
    if args.command == "signing-secret":
        return run_command(DEFINITION, lambda ctx: signing_secret(ctx, args.department))
    if args.command == "rotate-signing-secret":
        return run_command(
            DEFINITION,
            lambda ctx: rotate_signing_secret(ctx, args.department, args.overlap_hours),
        )
    return run_command(DEFINITION, reseal_signing_secrets)


if __name__ == "__main__":
    sys.exit(main())
