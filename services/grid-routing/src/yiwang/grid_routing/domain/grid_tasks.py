"""Grid tasks (小事不出网格): a grid-tier matter is first a task for the worker (代办员,
agent role) of its micro-grid, who acknowledges it, then settles it on the spot or passes
it up (上报) to the township department; not settled by its grid deadline, it passes up
by itself. Pure: the clock and ids are passed in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from yiwang.common.departments import Department
from yiwang.common.events import WorkerRole
from yiwang.grid_routing.domain.roster import GridWorker

# Who passes a task up when its deadline passes (the actor on the case's timeline).
TIMER = "grid-routing"


class GridTaskStatus(StrEnum):
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    SETTLED = "settled"  # on the spot: the case is resolved
    PASSED_UP = "passed_up"  # 上报: routed to the township department


OPEN = frozenset({GridTaskStatus.ASSIGNED, GridTaskStatus.ACKNOWLEDGED})


@dataclass(frozen=True, slots=True)
class GridTask:
    task_id: str
    case_id: str
    worker_id: str
    micro_grid_code: str
    township_code: str
    category: str
    title: str
    lead_department: Department
    assigned_at: datetime
    due_at: datetime
    status: GridTaskStatus = GridTaskStatus.ASSIGNED
    informant: str | None = None  # the grid worker who reported the matter
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None
    photo_urls: tuple[str, ...] = field(default=())
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def acknowledged(self, *, at: datetime) -> GridTask:
        check_open(self)
        if self.status is GridTaskStatus.ACKNOWLEDGED:
            return self  # the app may send it twice: same answer
        return replace(self, status=GridTaskStatus.ACKNOWLEDGED, acknowledged_at=at)

    def settled(self, *, by: str, note: str, photo_urls: tuple[str, ...], at: datetime) -> GridTask:
        check_open(self)
        return replace(
            self,
            status=GridTaskStatus.SETTLED,
            closed_at=at,
            closed_by=by,
            note=note,
            photo_urls=photo_urls,
            acknowledged_at=self.acknowledged_at or at,
        )

    def passed_up(self, *, by: str, reason: str, at: datetime) -> GridTask:
        check_open(self)
        return replace(self, status=GridTaskStatus.PASSED_UP, closed_at=at, closed_by=by,
                       reason=reason)  # fmt: skip

    def reopened(self, *, reason: str, at: datetime) -> GridTask:
        """A settlement the resident was unsatisfied with: the matter leaves the grid."""
        check_settled(self)
        return replace(self, status=GridTaskStatus.PASSED_UP, reason=reason, closed_at=at,
                       closed_by=TIMER)  # fmt: skip


class GridTaskUnknown(LookupError):
    field = "task_id"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"there is no grid task {task_id}")


class GridTaskClosed(ValueError):
    """Settled or passed up already: acted on twice (409)."""

    field = "task_id"
    code = "grid_task_closed"

    def __init__(self, task: GridTask) -> None:
        super().__init__(f"grid task {task.task_id} is already {task.status.value}")


class GridTaskNotSettled(ValueError):
    def __init__(self, task: GridTask) -> None:
        super().__init__(f"grid task {task.task_id} is {task.status.value}, not settled")


class NotServingMicroGrid(PermissionError):
    """A grid worker acting on a task of a micro-grid they do not serve (403, audited)."""

    field = "task_id"
    code = "not_serving_micro_grid"

    def __init__(self, task: GridTask, worker_id: str | None) -> None:
        super().__init__(
            f"grid worker {worker_id or '(no grid_worker binding)'} does not serve micro-grid "
            f"{task.micro_grid_code} of grid task {task.task_id}"
        )


def check_open(task: GridTask) -> None:
    if not task.is_open:
        raise GridTaskClosed(task)


def check_settled(task: GridTask) -> None:
    if task.status is not GridTaskStatus.SETTLED:
        raise GridTaskNotSettled(task)


def check_serves(task: GridTask, worker: GridWorker | None, worker_id: str | None) -> GridWorker:
    """The acting worker, on the active roster, serving the task's micro-grid."""
    if worker is None or not worker.serves(task.micro_grid_code):
        raise NotServingMicroGrid(task, worker_id)
    return worker


def roles_on_record(task: GridTask, worker_id: str) -> str:
    """The roles the acting worker holds on this case: the agent who handles it, and the
    informant too when they reported it themselves."""
    roles = [WorkerRole.AGENT]
    if task.informant == worker_id:
        roles.insert(0, WorkerRole.INFORMANT)
    return " and ".join(f"{r.value}" for r in roles)


def task_id_for(case_id: str) -> str:
    """One task per case: its id follows from the case's, so a redelivery finds it."""
    return f"gt-{case_id}"
