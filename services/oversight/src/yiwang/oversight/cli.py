"""Oversight's operator commands.

    python -m yiwang.oversight.cli daily-report [--day YYYY-MM-DD] [--format json|csv]

`daily-report` prints the daily dispatch report (日调度) of a local day (Asia/Shanghai;
by default yesterday): per department the day's flows and the open and overdue cases now,
the same document and CSV as `GET /reports/daily`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from fastapi.encoders import jsonable_encoder
from yiwang.common.cli import CommandContext, CommandRefused, run_command
from yiwang.oversight.adapters.queries import PostgresOversightReader
from yiwang.oversight.app import DEFINITION
from yiwang.oversight.domain.periods import BadPeriod
from yiwang.oversight.entrypoints.http_reports import Format, csv_text, daily_document
from yiwang.oversight.handlers import reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.oversight.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    daily = commands.add_parser("daily-report", help="print the daily dispatch report (日调度)")
    daily.add_argument("--day", type=_local_day, help="local date, YYYY-MM-DD; default yesterday")
    daily.add_argument("--format", choices=[f.value for f in Format], default=Format.JSON.value)
    args = parser.parse_args(argv)
    return run_command(
        DEFINITION, lambda ctx: print_daily_report(ctx, day=args.day, format=Format(args.format))
    )


async def print_daily_report(ctx: CommandContext, *, day: date | None, format: Format) -> int:
    try:
        report = await reports.daily_report(
            reader=PostgresOversightReader(ctx.pool), day=day, now=ctx.clock.now()
        )
    except BadPeriod as exc:
        raise CommandRefused(f"--{exc.field}: {exc.reason}") from None
    document = daily_document(report)
    if format is Format.CSV:
        sys.stdout.write(csv_text(document["lines"]))
    else:
        print(json.dumps(jsonable_encoder(document), ensure_ascii=False, indent=2))
    return 0


def _local_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


if __name__ == "__main__":
    sys.exit(main())
