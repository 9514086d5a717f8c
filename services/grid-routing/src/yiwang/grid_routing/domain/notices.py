"""Notices to residents (宣传员): a grid worker with the publicist role brings a notice to
the residents of a case's micro-grid, for example after a resolved hazard; the notice is
recorded on the case. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yiwang.common.events import WorkerRole
from yiwang.grid_routing.domain.roster import GridWorker


@dataclass(frozen=True, slots=True)
class GridNotice:
    notice_id: str
    case_id: str
    worker_id: str
    micro_grid_code: str
    text: str
    published_at: datetime


class CaseNotInAMicroGrid(LookupError):
    """A notice for a case routing never placed in a micro-grid (404)."""

    field = "case_id"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} is not placed in any micro-grid routing knows")


class NotThePublicist(PermissionError):
    """Only a publicist (宣传员) serving the case's micro-grid posts its notices (403)."""

    field = "case_id"
    code = "not_the_publicist"

    def __init__(self, worker_id: str | None, micro_grid_code: str) -> None:
        super().__init__(
            f"grid worker {worker_id or '(no grid_worker binding)'} is not a publicist (宣传员) "
            f"of micro-grid {micro_grid_code}"
        )


def check_publicist(
    worker: GridWorker | None, worker_id: str | None, micro_grid: str
) -> GridWorker:
    if worker is None or not worker.serves(micro_grid) or not worker.has(WorkerRole.PUBLICIST):
        raise NotThePublicist(worker_id, micro_grid)
    return worker
