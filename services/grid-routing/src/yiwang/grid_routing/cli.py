"""python -m yiwang.grid_routing.cli generate | import | list | activate
python -m yiwang.grid_routing.cli roster generate | import | list | activate

`generate` writes a synthetic county as GeoJSON files; `import` validates, overlays and
stores files as a new grid set version (refused on problems unless --repair); `list`
shows the versions; `activate` switches back to an earlier one. `roster ...` does the
same for the roster of grid workers (五大员), from CSV or GeoJSON feature properties,
checked against the active grid set (any bad row refuses the whole file).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBar
from rich.table import Table
from yiwang.common.cli import CommandContext, run_command
from yiwang.grid_routing.adapters.grid_sets import PostgresGridSetRepository
from yiwang.grid_routing.adapters.rosters import PostgresRosterRepository, UnknownRoster
from yiwang.grid_routing.app import DEFINITION
from yiwang.grid_routing.domain.errors import UnknownGridSet
from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster
from yiwang.grid_routing.domain.presets import PRESETS
from yiwang.grid_routing.domain.problems import GridSetRejected
from yiwang.grid_routing.domain.roster import COLUMNS as ROSTER_COLUMNS
from yiwang.grid_routing.domain.roster import read_roster_csv, read_roster_geojson
from yiwang.grid_routing.handlers import grid_sets as grid_set_handlers
from yiwang.grid_routing.handlers import rosters as roster_handlers

console = Console(stderr=True)


class BarProgress:
    """The Progress protocol on a rich progress bar, one task per stage."""

    def __init__(self, bar: RichBar) -> None:
        self._bar = bar
        self._task: Any = None

    def stage(self, description: str, total: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[-1].total)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.grid_routing.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write a synthetic county as GeoJSON")
    generate.add_argument("--preset", choices=sorted(PRESETS), default="district")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", type=Path, required=True, help="directory for the files")
    load = commands.add_parser("import", help="import GeoJSON files as a new grid set version")
    load.add_argument("paths", nargs="+", type=Path, help="GeoJSON files or directories")
    load.add_argument("--repair", action="store_true", help="repair what can be repaired")
    load.add_argument("--label", default="", help="a label for the version")
    commands.add_parser("list", help="list grid set versions")
    activate = commands.add_parser("activate", help="switch to an earlier version")
    activate.add_argument("version", type=int)
    _roster_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "roster":
        return _roster(args)
    if args.command == "generate":
        return _generate(args.preset, args.seed, args.out)
    if args.command == "import":
        return _with_repository(lambda repo: _import(repo, args.paths, args.repair, args.label))
    if args.command == "list":
        return _with_repository(_list)
    return _with_repository(lambda repo: _activate(repo, args.version))


def _generate(preset: str, seed: int, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for layer, collection in generate_county(preset, seed=seed).items():
        path = out / f"{layer}.geojson"
        path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        console.print(f"{path}: {len(collection['features'])} features")
    return 0


async def _import(
    repo: PostgresGridSetRepository, paths: list[Path], repair: bool, label: str
) -> int:
    files = [
        p for path in paths for p in (sorted(path.glob("*.geojson")) if path.is_dir() else [path])
    ]
    collections = []
    for path in files:
        try:
            collections.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            console.print(f"[red]{path}: cannot read GeoJSON: {exc}")
            return 1
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with RichBar(*columns, console=console) as bar:
        try:
            version = await grid_set_handlers.import_grid_set(
                grid_sets=repo,
                collections=collections,
                label=label or ", ".join(p.name for p in files),
                source=", ".join(str(p) for p in files),
                repair=repair,
                progress=BarProgress(bar),
            )
        except GridSetRejected as exc:
            bar.stop()
            print(exc, file=sys.stderr)  # plain lines, unwrapped: scripts grep these
            return 1
    console.print(f"grid set v{version} imported and active")
    return 0


async def _list(repo: PostgresGridSetRepository) -> int:
    table = Table(
        "version",
        "active",
        "label",
        "county",
        "micro-grids",
        "admin",
        "dept units",
        "repairs",
        "imported",
    )
    for s in await repo.summaries():
        table.add_row(
            str(s.version),
            "*" if s.active else "",
            s.label,
            s.county_code,
            str(s.micro_grids),
            str(s.admin_units),
            str(s.department_units),
            str(s.repairs),
            s.imported_at.isoformat(timespec="seconds"),
        )
    out = Console()
    if not out.is_terminal:  # piped: no terminal width to fit, keep rows whole
        out = Console(width=200)
    out.print(table)
    return 0


async def _activate(repo: PostgresGridSetRepository, version: int) -> int:
    try:
        await repo.activate(version)
    except UnknownGridSet as exc:
        console.print(f"[red]{exc}")
        return 1
    console.print(f"grid set v{version} is active; running services pick it up within a minute")
    return 0


def _roster_commands(commands: Any) -> None:
    roster = commands.add_parser("roster", help="the roster of grid workers (五大员)")
    sub = roster.add_subparsers(dest="roster_command", required=True)
    generate = sub.add_parser("generate", help="write a synthetic county's roster as CSV")
    generate.add_argument("--preset", choices=sorted(PRESETS), default="district")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", type=Path, required=True, help="the CSV file")
    load = sub.add_parser("import", help="import a CSV or GeoJSON roster as a new version")
    load.add_argument("path", type=Path, help="a .csv file, or a .geojson/.json file")
    load.add_argument("--label", default="", help="a label for the version")
    sub.add_parser("list", help="list roster versions")
    activate = sub.add_parser("activate", help="switch to another roster version")
    activate.add_argument("version", type=int)


def _roster(args: argparse.Namespace) -> int:
    if args.roster_command == "generate":
        rows = synthetic_roster(generate_county(args.preset, seed=args.seed)["admin"])
        with args.out.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(ROSTER_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        console.print(f"{args.out}: {len(rows)} grid workers")
        return 0

    text = ""
    if args.roster_command == "import":
        try:
            text = args.path.read_text(encoding="utf-8")
        except OSError as exc:
            console.print(f"[red]{args.path}: cannot read: {exc}")
            return 1

    async def on_rosters(ctx: CommandContext) -> int:
        repo = PostgresRosterRepository(ctx.pool)
        if args.roster_command == "import":
            return await _import_roster(repo, args.path, text, args.label)
        if args.roster_command == "list":
            table = Table("version", "active", "label", "grid set", "workers", "imported")
            for r in await repo.summaries():
                table.add_row(str(r.version), "*" if r.active else "", r.label, str(r.grid_set),
                              str(r.workers), r.imported_at.isoformat(timespec="seconds"))  # fmt: skip
            Console(width=200).print(table)
            return 0
        try:
            await repo.activate(args.version)
        except UnknownRoster as exc:
            console.print(f"[red]{exc}")
            return 1
        console.print(f"roster v{args.version} is active")
        return 0

    return run_command(DEFINITION, on_rosters)


async def _import_roster(repo: PostgresRosterRepository, path: Path, text: str, label: str) -> int:
    try:
        rows = (
            read_roster_csv(text) if path.suffix.lower() == ".csv"
            else read_roster_geojson(json.loads(text))
        )  # fmt: skip
        version = await roster_handlers.import_roster(
            rosters=repo, rows=rows, label=label or path.name, source=str(path)
        )
    except ValueError as exc:  # RosterRejected is one; so is unreadable JSON
        print(exc, file=sys.stderr)  # plain lines, unwrapped: scripts grep these
        return 1
    console.print(f"roster v{version} imported and active")
    return 0


def _with_repository(command: Callable[[PostgresGridSetRepository], Awaitable[int]]) -> int:
    """Run `command` on the grid sets, the schema migrated first (yiwang.common.cli)."""

    async def on_grid_sets(ctx: CommandContext) -> int:
        return await command(PostgresGridSetRepository(ctx.pool))

    return run_command(DEFINITION, on_grid_sets)


if __name__ == "__main__":
    sys.exit(main())
