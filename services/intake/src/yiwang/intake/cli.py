"""Issue, revoke and list the API keys of integrating platforms.

    python -m yiwang.intake.cli issue-key --platform yq-12345 --scopes submit,read
    python -m yiwang.intake.cli revoke-key <key_id>
    python -m yiwang.intake.cli list-keys

The key is printed once and stored only as a hash.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from yiwang.common.clock import SystemClock
from yiwang.common.postgres import DatabaseUnavailable, open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.postgres.pool import connect
from yiwang.common.service import service_migrations
from yiwang.intake.adapters.api_keys import ApiKeyStore
from yiwang.intake.config import IntakeSettings


async def run(args: argparse.Namespace) -> int:
    from yiwang.intake.app import DEFINITION

    settings = IntakeSettings()
    conn = await connect(settings.database_url)
    try:
        await apply_migrations(
            conn, schema=DEFINITION.schema, migrations=service_migrations(DEFINITION)
        )
    finally:
        await conn.close()
    pool = await open_pool(
        dsn=settings.database_url, schema=DEFINITION.schema, application_name="yiwang-intake-cli"
    )
    store, now = ApiKeyStore(pool), SystemClock().now()
    try:
        if args.command == "issue-key":
            scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
            key, presented = await store.issue(platform=args.platform, scopes=scopes, now=now)
            print(presented)
            print(
                f"key {key.key_id} for {key.platform}, scopes {','.join(sorted(key.scopes))}",
                file=sys.stderr,
            )
        elif args.command == "revoke-key":
            if not await store.revoke(key_id=args.key_id, now=now):
                print(f"yiwang-intake: no active key '{args.key_id}'", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
        else:
            for row in await store.list_keys():
                state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
                print(f"{row['key_id']}  {row['platform']:24} {','.join(row['scopes']):12} {state}")
    finally:
        await pool.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.intake.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue-key", help="issue a key for an integrating platform")
    issue.add_argument("--platform", required=True)
    issue.add_argument("--scopes", default="submit,read", help="comma-separated: submit, read")
    revoke = sub.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("key_id")
    sub.add_parser("list-keys", help="list keys (never the keys themselves)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (DatabaseUnavailable, ValueError) as exc:
        print(f"yiwang-intake: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
