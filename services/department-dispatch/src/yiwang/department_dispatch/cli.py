"""Operator commands: API keys for departments and townships, and Kafka signing secrets.

python -m yiwang.department_dispatch.cli issue-key civil-affairs
python -m yiwang.department_dispatch.cli issue-key township:140302001
python -m yiwang.department_dispatch.cli revoke-key civil-affairs
python -m yiwang.department_dispatch.cli signing-secret civil-affairs
"""

from __future__ import annotations

import argparse
import re
import sys

from yiwang.common.cli import CommandContext, run_command
from yiwang.common.departments import Department
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.app import DEFINITION
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.domain.credentials import department_secret

TOWNSHIP = re.compile(r"^township:\d{6,12}$")


def check_principal(principal: str) -> str:
    if principal in set(Department) or TOWNSHIP.match(principal):
        return principal
    raise argparse.ArgumentTypeError(
        f"'{principal}' is neither a department code ({', '.join(Department)}) nor township:<code>"
    )


async def issue_key(ctx: CommandContext, principal: str) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    # Shown once: only its hash is stored.
    print(await handlers.issue_api_key(uow=uow(), principal=principal))
    return 0


async def revoke_key(ctx: CommandContext, principal: str) -> int:
    uow = ctx.units_of_work(PostgresDispatchUnitOfWork)
    print(f"revoked {await handlers.revoke_api_keys(uow=uow(), principal=principal)} key(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.department_dispatch.cli")
    parser.add_argument("command", choices=["issue-key", "revoke-key", "signing-secret"])
    parser.add_argument(
        "principal", type=check_principal, help="department code or township:<code>"
    )
    args = parser.parse_args(argv)
    if args.command == "issue-key":
        return run_command(DEFINITION, lambda ctx: issue_key(ctx, args.principal))
    if args.command == "revoke-key":
        return run_command(DEFINITION, lambda ctx: revoke_key(ctx, args.principal))
    # Derived from the signing key alone: no database needed.
    if args.principal not in set(Department):
        parser.error("signing secrets are for departments")
    print(department_secret(DispatchSettings().signing_key, Department(args.principal)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
