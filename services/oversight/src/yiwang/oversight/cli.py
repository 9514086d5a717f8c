"""Oversight's operator commands.

    python -m yiwang.oversight.cli daily-report [--day YYYY-MM-DD] [--format json|csv]
    python -m yiwang.oversight.cli weekly-report [--week-of YYYY-MM-DD] [--format json|csv]
    python -m yiwang.oversight.cli monthly-report [--month YYYY-MM] [--format json|csv]
    python -m yiwang.oversight.cli reconcile --from YYYY-MM-DD --to YYYY-MM-DD [--format json|csv]
    python -m yiwang.oversight.cli calendar [--years YYYY ...]

`daily-report` prints the daily dispatch report (日调度) of a local day (Asia/Shanghai;
by default yesterday): per department the day's flows and the open and overdue cases now,
the same document and CSV as `GET /reports/daily`. `weekly-report` (周调度, the week
Monday-Sunday that --week-of falls in, by default last week) and `monthly-report` (月盘点,
by default last month) print the same as `GET /reports/weekly` and `/reports/monthly`.

`reconcile` (对账) compares, for the cases received from --from to --to (local dates), what
intake received, what department-dispatch holds and what oversight's projection shows,
and prints every case on which they disagree, as `GET /reconciliation` does. It asks the
two services with the bearer token in YIWANG_BEARER_TOKEN (an auditor's or a hub
operator's), and exits 1 when any case disagrees.

`calendar` prints, for each year (by default this year and next, on the service clock),
where its working days come from: a calendar file (YIWANG_CALENDAR_FILES), the
chinese-calendar tables, or MISSING (Monday-Friday, holidays and make-up working days
unknown). It exits 1 if any year is missing: add the State Council's notice for it as a
calendar file (docs/operations.md, "Calendar").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

from fastapi.encoders import jsonable_encoder
from yiwang.common.cli import CommandContext, CommandRefused, run_command
from yiwang.common.working_days import WorkingCalendar, installed_calendar, local_date
from yiwang.oversight.adapters.peers import HttpPeers, PeerFailed, Peers
from yiwang.oversight.adapters.queries import PostgresOversightReader
from yiwang.oversight.app import DEFINITION
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.assessment import BadMonth, parse_month
from yiwang.oversight.domain.periods import BadPeriod
from yiwang.oversight.entrypoints.http_ledgers import reconciliation_document, reconciliation_rows
from yiwang.oversight.entrypoints.http_reports import (
    Format,
    csv_text,
    daily_document,
    period_csv_rows,
    period_document,
)
from yiwang.oversight.handlers import period_reports, reports
from yiwang.oversight.handlers.period_reports import Cadence
from yiwang.oversight.handlers.reconciliation import reconcile_period


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.oversight.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    daily = commands.add_parser("daily-report", help="print the daily dispatch report (日调度)")
    daily.add_argument("--day", type=_local_day, help="local date, YYYY-MM-DD; default yesterday")
    daily.add_argument("--format", choices=[f.value for f in Format], default=Format.JSON.value)
    weekly = commands.add_parser("weekly-report", help="print the weekly dispatch report (周调度)")
    weekly.add_argument(
        "--week-of", type=_local_day, help="a local date in the week; default last week"
    )
    monthly = commands.add_parser("monthly-report", help="print the monthly stock-taking (月盘点)")
    monthly.add_argument("--month", type=_month, help="YYYY-MM; default last month")
    for command in (weekly, monthly):
        command.add_argument(
            "--format", choices=[f.value for f in Format], default=Format.JSON.value
        )
    reconcile = commands.add_parser(
        "reconcile", help="对账: list every case intake, dispatch and oversight disagree on"
    )
    reconcile.add_argument("--from", dest="first", type=_local_day, required=True)
    reconcile.add_argument("--to", dest="last", type=_local_day, required=True)
    reconcile.add_argument("--format", choices=[f.value for f in Format], default=Format.JSON.value)
    coverage = commands.add_parser(
        "calendar", help="where each year's working days come from; exit 1 if one is missing"
    )
    coverage.add_argument(
        "--years", type=_year, nargs="+", metavar="YYYY", help="default: this year and next"
    )
    args = parser.parse_args(argv)
    if args.command == "calendar":
        return run_command(DEFINITION, lambda ctx: print_calendar(ctx, years=args.years))
    if args.command == "reconcile":
        return run_command(
            DEFINITION,
            lambda ctx: print_reconciliation(
                ctx, first=args.first, last=args.last, format=Format(args.format)
            ),
        )
    if args.command in ("weekly-report", "monthly-report"):
        cadence = Cadence.WEEKLY if args.command == "weekly-report" else Cadence.MONTHLY
        day = args.week_of if cadence is Cadence.WEEKLY else args.month
        return run_command(
            DEFINITION,
            lambda ctx: print_period_report(
                ctx, cadence=cadence, day=day, format=Format(args.format)
            ),
        )
    return run_command(
        DEFINITION, lambda ctx: print_daily_report(ctx, day=args.day, format=Format(args.format))
    )


MISSING = "MISSING: Monday-Friday, holidays and make-up working days unknown"


def calendar_coverage(calendar: WorkingCalendar, years: list[int]) -> list[tuple[int, str | None]]:
    """Each year and where its working days come from; None for a year nothing covers."""
    return [(year, calendar.source_of(year)) for year in years]


async def print_calendar(ctx: CommandContext, *, years: list[int] | None) -> int:
    """One line per year; exit 1 if a year is missing (its deadlines count Mon-Fri)."""
    this_year = local_date(ctx.clock.now()).year
    coverage = calendar_coverage(installed_calendar(), years or [this_year, this_year + 1])
    for year, source in coverage:
        print(f"{year}  {source or MISSING}")
    missing = [year for year, source in coverage if source is None]
    if missing:
        print(
            f"add the State Council's holiday notice for {', '.join(map(str, missing))} as a "
            "calendar file (YIWANG_CALENDAR_FILES; docs/operations.md#calendar)",
            file=sys.stderr,
        )
    return 1 if missing else 0


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


async def print_period_report(
    ctx: CommandContext, *, cadence: Cadence, day: date | None, format: Format
) -> int:
    settings = ctx.settings
    weights = settings.evaluation_weights if isinstance(settings, OversightSettings) else None
    try:
        report = await period_reports.period_report(
            reader=PostgresOversightReader(ctx.pool),
            cadence=cadence,
            day=day,
            now=ctx.clock.now(),
            weights=weights,
        )
    except BadPeriod as exc:
        raise CommandRefused(f"--{exc.field.replace('_', '-')}: {exc.reason}") from None
    if format is Format.CSV:
        sys.stdout.write(csv_text(period_csv_rows(report)))
    else:
        print(json.dumps(jsonable_encoder(period_document(report)), ensure_ascii=False, indent=2))
    return 0


TOKEN_VARIABLE = "YIWANG_BEARER_TOKEN"  # noqa: S105  (the variable's name, not a secret)


async def print_reconciliation(
    ctx: CommandContext, *, first: date, last: date, format: Format, peers: Peers | None = None
) -> int:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise CommandRefused(
            f"set {TOKEN_VARIABLE} to an auditor's or hub operator's bearer token: intake and "
            "department-dispatch are asked with it"
        )
    settings = ctx.settings
    if peers is None:
        if not isinstance(settings, OversightSettings):
            raise CommandRefused("not oversight's settings")
        peers = HttpPeers(
            intake_url=settings.intake_url,
            dispatch_url=settings.dispatch_url,
            timeout=settings.peer_timeout_seconds,
        )
    try:
        report = await reconcile_period(
            reader=PostgresOversightReader(ctx.pool),
            peers=peers,
            first=first,
            last=last,
            authorization=f"Bearer {token}",
            now=ctx.clock.now(),
        )
    except BadPeriod as exc:
        raise CommandRefused(f"--{exc.field}: {exc.reason}") from None
    except PeerFailed as exc:
        raise CommandRefused(str(exc)) from None
    if format is Format.CSV:
        sys.stdout.write(csv_text(reconciliation_rows(report)))
    else:
        document = reconciliation_document(report)
        print(json.dumps(jsonable_encoder(document), ensure_ascii=False, indent=2))
    return 0 if report.reconciliation.agreed else 1


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except BadMonth as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a year (YYYY)") from None
    if not 2000 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"{year} is not a year between 2000 and 2100")
    return year


def _local_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


if __name__ == "__main__":
    sys.exit(main())
