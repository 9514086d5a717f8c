"""The grid worker's tasks (小事不出网格), on grid.tasks.v1: what grid-routing hands the
worker of a micro-grid, and how the worker ended it. The grid-worker app reads them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, StringConstraints
from yiwang.common.case import Text
from yiwang.common.departments import Department
from yiwang.common.events.base import CaseEvent
from yiwang.common.events.routing import MicroGridRef

PhotoUrl = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class WorkerRole(StrEnum):
    """The five roles of a micro-grid worker (五大员)."""

    INFORMANT = "informant"  # 信息员: reports what they see
    AGENT = "agent"  # 代办员: handles small matters on residents' behalf
    MEDIATOR = "mediator"  # 调解员: mediates at the grid rung
    ASSISTANT = "assistant"  # 协管员: assists departments on site
    PUBLICIST = "publicist"  # 宣传员: brings notices to residents


class GridTaskAssigned(CaseEvent):
    """A grid-tier matter became a task for the worker (agent role) of its micro-grid."""

    event_type: ClassVar[str] = "yiwang.grid.task-assigned.v1"

    task_id: str
    worker_id: str
    micro_grid: MicroGridRef
    category: str
    title: str
    lead_department: Department  # who takes it if the worker passes it up (上报)
    assigned_at: AwareDatetime
    due_at: AwareDatetime  # not settled by then, it passes up by itself
    informant: str | None = None  # the grid worker who reported it, if one did


class GridTaskSettled(CaseEvent):
    """The worker settled the matter on the spot: the case is resolved."""

    event_type: ClassVar[str] = "yiwang.grid.task-settled.v1"

    task_id: str
    worker_id: str
    micro_grid_code: str
    note: Text
    photo_urls: tuple[PhotoUrl, ...] = ()
    settled_at: AwareDatetime


class GridTaskPassedUp(CaseEvent):
    """The matter left the grid (上报): by the worker's hand, when its grid deadline
    passed (`timed_out`), or after an unsatisfied evaluation of its settlement."""

    event_type: ClassVar[str] = "yiwang.grid.task-passed-up.v1"

    task_id: str
    worker_id: str
    micro_grid_code: str
    reason: Text
    to_department: Department
    timed_out: bool = False
    passed_up_at: AwareDatetime


class GridNoticePublished(CaseEvent):
    """A publicist (宣传员) brought a notice to the residents of the case's micro-grid."""

    event_type: ClassVar[str] = "yiwang.grid.notice-published.v1"

    notice_id: str
    worker_id: str
    micro_grid_code: str
    text: Text
    published_at: AwareDatetime


class GridAssistRequested(CaseEvent):
    """The township or a department asks the micro-grid's assistant (协管员) to help on site."""

    event_type: ClassVar[str] = "yiwang.grid.assist-requested.v1"

    assist_id: str
    worker_id: str
    micro_grid_code: str
    requested_by: str
    note: Text
    requested_at: AwareDatetime


class GridAssistDone(CaseEvent):
    event_type: ClassVar[str] = "yiwang.grid.assist-done.v1"

    assist_id: str
    worker_id: str
    report: Text
    done_at: AwareDatetime
