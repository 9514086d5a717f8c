"""The roster of grid workers (网格员) and their five roles (五大员), and its checks.

A roster row names a worker, the micro-grids they serve and their roles. It is read from
CSV or from GeoJSON feature properties, and checked against the active grid set: a row
naming an unknown micro-grid, or a worker with no role, refuses the whole import, naming
the row and the reason. Pure: reading files and storing are the callers' jobs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yiwang.common.events import WorkerRole

# The Chinese names operators' files use, beside the English ones.
ROLE_NAMES: dict[str, WorkerRole] = {
    **{r.value: r for r in WorkerRole},
    "信息员": WorkerRole.INFORMANT,
    "代办员": WorkerRole.AGENT,
    "调解员": WorkerRole.MEDIATOR,
    "协管员": WorkerRole.ASSISTANT,
    "宣传员": WorkerRole.PUBLICIST,
}
ROLE_ZH = {role: zh for zh, role in ROLE_NAMES.items() if not zh.isascii()}
COLUMNS = ("worker_id", "name", "micro_grids", "roles")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_SEPARATORS = re.compile(r"[;,，、\s]+")


@dataclass(frozen=True, slots=True)
class GridWorker:
    worker_id: str
    name: str
    micro_grids: tuple[str, ...]
    roles: frozenset[WorkerRole]

    def serves(self, micro_grid_code: str) -> bool:
        return micro_grid_code in self.micro_grids

    def has(self, role: WorkerRole) -> bool:
        return role in self.roles


class RosterRejected(ValueError):
    """The roster has problems; nothing was imported. Each problem names its row."""

    field = "roster"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"roster refused, {len(self.problems)} problem(s):\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


def read_roster_csv(text: str) -> list[Mapping[str, Any]]:
    """The rows of a CSV roster with a header (worker_id, name, micro_grids, roles);
    micro-grids and roles separated by `;`, spaces or commas within their cell."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterRejected([f"header: missing column(s) {', '.join(missing)}"])
        return list(reader)
    except csv.Error as exc:
        raise RosterRejected([f"line {reader.line_num}: not CSV: {exc}"]) from None


def read_roster_geojson(collection: Any) -> list[Mapping[str, Any]]:
    """The properties of each feature of a FeatureCollection (geometry is not used)."""
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise RosterRejected(["document: not a GeoJSON FeatureCollection"])
    features = collection.get("features")
    if not isinstance(features, list):
        raise RosterRejected(["document: its features are not a list"])
    rows: list[Mapping[str, Any]] = []
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, Mapping) else None
        rows.append(properties if isinstance(properties, Mapping) else {})
    return rows


def check_roster(
    rows: Iterable[Mapping[str, Any]], *, micro_grids: set[str] | frozenset[str], grid_set: int
) -> list[GridWorker]:
    """The workers of a roster, every row checked; RosterRejected lists every problem.

    Rows count from 1 (the first data row, after a CSV header; the first feature)."""
    workers: list[GridWorker] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        worker_id = str(row.get("worker_id") or "").strip()
        where = f"row {number}" + (f" (worker {worker_id})" if worker_id else "")
        found: list[str] = []
        if not _ID.match(worker_id):
            found.append("worker_id is missing or not an id (letters, digits, . _ : -)")
        elif worker_id in seen:
            found.append(f"worker_id {worker_id} is also on row {seen[worker_id]}")
        name = str(row.get("name") or "").strip()
        if not name or len(name) > 100:
            found.append("name is missing or longer than 100 characters")
        codes = _items(row.get("micro_grids"))
        if not codes:
            found.append("serves no micro-grid")
        unknown = [c for c in codes if c not in micro_grids]
        if unknown:
            found.append(f"micro-grid {', '.join(unknown)} is not in grid set v{grid_set}")
        named = _items(row.get("roles"))
        strange = [r for r in named if r not in ROLE_NAMES]
        if not named:
            found.append("has no role (one or more of " + ", ".join(ROLE_NAMES) + ")")
        elif strange:
            found.append(f"unknown role {', '.join(strange)}")
        problems += [f"{where}: {p}" for p in found]
        if worker_id and worker_id not in seen:
            seen[worker_id] = number
        if not found:
            workers.append(
                GridWorker(
                    worker_id=worker_id,
                    name=name,
                    micro_grids=tuple(dict.fromkeys(codes)),
                    roles=frozenset(ROLE_NAMES[r] for r in named),
                )
            )
    if not workers and not problems:
        problems.append("the roster has no rows")
    if problems:
        raise RosterRejected(problems)
    return workers


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in _SEPARATORS.split(value.strip()) if v]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def agent_for(
    workers: Iterable[GridWorker], micro_grid_code: str, role: WorkerRole = WorkerRole.AGENT
) -> GridWorker | None:
    """The worker who takes a micro-grid's small matters: the first (by id) agent there
    (or the first with another `role`: the mediator of its disputes)."""
    agents = sorted(
        (w for w in workers if w.serves(micro_grid_code) and w.has(role)),
        key=lambda w: w.worker_id,
    )
    return agents[0] if agents else None
