"""What can be wrong with a grid file, each problem naming the features concerned."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProblemKind(StrEnum):
    MALFORMED = "malformed-feature"  # missing properties, unknown layer or level, not a polygon
    DUPLICATE = "duplicate-code"
    INVALID_GEOMETRY = "invalid-geometry"  # self-intersecting, ring not closed, ...
    OVERLAP = "overlap"
    GAP = "gap"
    ORPHAN = "orphan"  # no parent, or a parent that is not in the tree one level up
    OUTSIDE_PARENT = "outside-parent"
    MISSING_LAYER = "missing-layer"


@dataclass(frozen=True, slots=True)
class GridProblem:
    kind: ProblemKind
    layer: str  # "admin/micro_grid", "market-supervision", ...
    ids: tuple[str, ...]  # the features concerned
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.layer} [{', '.join(self.ids)}]: {self.detail}"


class GridSetRejected(ValueError):
    """An import refused because of problems; the message lists every one."""

    def __init__(self, problems: list[GridProblem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"grid set refused: {len(problems)} problem(s); fix the file or import with "
            f"repair=True (--repair)\n{shown}{more}"
        )
