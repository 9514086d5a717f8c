"""python -m yiwang.grid_routing.cli generate | import | list | activate

`generate` writes a synthetic county as GeoJSON files; `import` validates, overlays and
stores files as a new grid set version (refused on problems unless --repair); `list`
shows the versions; `activate` switches back to an earlier one.
"""

from __future__ import annotations

import argparse
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
from yiwang.grid_routing.app import DEFINITION
from yiwang.grid_routing.domain.errors import UnknownGridSet
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.presets import PRESETS
from yiwang.grid_routing.domain.problems import GridSetRejected
from yiwang.grid_routing.handlers import grid_sets as grid_set_handlers

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
    args = parser.parse_args(argv)
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


def _with_repository(command: Callable[[PostgresGridSetRepository], Awaitable[int]]) -> int:
    """Run `command` on the grid sets, the schema migrated first (yiwang.common.cli)."""

    async def on_grid_sets(ctx: CommandContext) -> int:
        return await command(PostgresGridSetRepository(ctx.pool))

    return run_command(DEFINITION, on_grid_sets)


if __name__ == "__main__":
    sys.exit(main())
