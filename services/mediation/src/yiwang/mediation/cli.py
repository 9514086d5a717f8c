"""Operator commands for mediation, through yiwang.common.cli.run_command.

    python -m yiwang.mediation.cli mediators [--level grid|community|township|district]

`mediators` lists the roster with each mediator's current load and capacity (the same
use case as GET /mediators).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from yiwang.common.cli import CommandContext, run_command
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import PostgresMediationUnitOfWork
from yiwang.mediation.app import DEFINITION
from yiwang.mediation.domain.ladder import MediationLevel
from yiwang.mediation.domain.roster import Mediator

HEADER = ("mediator", "level", "area", "trade", "load", "active", "specialties")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.mediation.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    mediators = commands.add_parser(
        "mediators", help="list the roster with each mediator's load and capacity"
    )
    mediators.add_argument("--level", choices=[level.value for level in MediationLevel])
    mediators.add_argument("--limit", type=int, default=1000, help="at most this many")
    args = parser.parse_args(argv)
    level = MediationLevel(args.level) if args.level else None
    return run_command(DEFINITION, lambda ctx: list_roster(ctx, level=level, limit=args.limit))


async def list_roster(ctx: CommandContext, *, level: MediationLevel | None, limit: int) -> int:
    uow = ctx.units_of_work(PostgresMediationUnitOfWork)
    found = await handlers.list_mediators(uow=uow(), level=level, limit=limit)
    if not found:
        print("no mediators on the roster" + (f" at the {level} rung" if level else ""))
        return 0
    print(roster_table(found))
    return 0


def roster_table(mediators: Sequence[Mediator]) -> str:
    rows = [HEADER] + [
        (
            m.mediator_id,
            m.level.value,
            m.area_code,
            m.trade.value if m.trade else "-",
            f"{m.load}/{m.capacity}",
            "yes" if m.active else "no",
            ",".join(sorted(s.value for s in m.specialties)) or "-",
        )
        for m in mediators
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
