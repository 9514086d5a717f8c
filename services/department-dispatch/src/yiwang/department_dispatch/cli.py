"""Operator commands: API keys for departments and townships, and Kafka signing secrets.

python -m yiwang.department_dispatch.cli issue-key civil-affairs
python -m yiwang.department_dispatch.cli issue-key township:140302001
python -m yiwang.department_dispatch.cli revoke-key civil-affairs
python -m yiwang.department_dispatch.cli signing-secret civil-affairs
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from yiwang.common.departments import Department
from yiwang.common.postgres.pool import connect
from yiwang.department_dispatch.app import DEFINITION
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.domain.credentials import (
    department_secret,
    hash_api_key,
    new_api_key,
)

TOWNSHIP = re.compile(r"^township:\d{6,12}$")


def check_principal(principal: str) -> str:
    if principal in set(Department) or TOWNSHIP.match(principal):
        return principal
    raise argparse.ArgumentTypeError(
        f"'{principal}' is neither a department code ({', '.join(Department)}) nor township:<code>"
    )


async def _issue(settings: DispatchSettings, principal: str) -> str:
    key = new_api_key()
    conn = await connect(settings.database_url)
    try:
        await conn.execute(
            f'INSERT INTO "{DEFINITION.schema}".api_key (key_hash, principal) VALUES ($1, $2)',
            hash_api_key(key),
            principal,
        )
    finally:
        await conn.close()
    return key


async def _revoke(settings: DispatchSettings, principal: str) -> int:
    conn = await connect(settings.database_url)
    try:
        status = await conn.execute(
            f'UPDATE "{DEFINITION.schema}".api_key SET revoked_at = now()'
            " WHERE principal = $1 AND revoked_at IS NULL",
            principal,
        )
    finally:
        await conn.close()
    return int(status.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.department_dispatch.cli")
    parser.add_argument("command", choices=["issue-key", "revoke-key", "signing-secret"])
    parser.add_argument(
        "principal", type=check_principal, help="department code or township:<code>"
    )
    args = parser.parse_args(argv)
    settings = DispatchSettings()
    try:
        if args.command == "issue-key":
            # Shown once: only its hash is stored.
            print(asyncio.run(_issue(settings, args.principal)))
        elif args.command == "revoke-key":
            print(f"revoked {asyncio.run(_revoke(settings, args.principal))} key(s)")
        else:
            if args.principal not in set(Department):
                parser.error("signing secrets are for departments")
            print(department_secret(settings.signing_key, Department(args.principal)))
    except Exception as exc:  # a CLI: one line, not a trace
        print(f"yiwang-department-dispatch: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
