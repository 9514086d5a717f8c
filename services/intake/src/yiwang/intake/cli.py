"""Issue, revoke and list the API keys of integrating platforms.

    python -m yiwang.intake.cli issue-key --platform yq-12345 --scopes submit,read
    python -m yiwang.intake.cli revoke-key <key_id>
    python -m yiwang.intake.cli list-keys

The key is printed once, on stdout (scripts read it from there), and stored only as a
hash; anything else, log lines included, goes to stderr (run_command sees to that).
"""

from __future__ import annotations

import argparse
import sys

from yiwang.common.cli import CommandContext, CommandRefused, run_command
from yiwang.common.clock import SystemClock
from yiwang.intake.adapters.api_keys import ApiKeyStore, check_scopes
from yiwang.intake.app import DEFINITION

# When an operator issued or revoked a key is real time, whatever speed the service's
# simulated clock runs at.
CLOCK = SystemClock()


async def issue_key(ctx: CommandContext, *, platform: str, scopes: frozenset[str]) -> int:
    store = ApiKeyStore(lambda: ctx.pool)
    key, presented = await store.issue(platform=platform, scopes=scopes, now=CLOCK.now())
    print(presented)
    print(
        f"key {key.key_id} for {key.platform}, scopes {','.join(sorted(key.scopes))}",
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
        print(f"{row['key_id']}  {row['platform']:24} {','.join(row['scopes']):12} {state}")
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
    if args.command == "issue-key":
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        try:
            check_scopes(scopes)  # before touching the database
        except ValueError as exc:
            print(f"yiwang-intake: {exc}", file=sys.stderr)
            return 2
        return run_command(
            DEFINITION, lambda ctx: issue_key(ctx, platform=args.platform, scopes=scopes)
        )
    if args.command == "revoke-key":
        return run_command(DEFINITION, lambda ctx: revoke_key(ctx, key_id=args.key_id))
    return run_command(DEFINITION, list_keys)


if __name__ == "__main__":
    sys.exit(main())
