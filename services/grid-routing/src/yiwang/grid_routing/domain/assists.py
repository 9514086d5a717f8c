"""Assisting tasks (协管员): the township or a department handling a case asks the grid
worker (assistant role) of the case's micro-grid to assist on site; the worker reports
back when done. The case's state does not change: the department still holds it. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from yiwang.common.auth import Actor, Role
from yiwang.common.departments import Department


@dataclass(frozen=True, slots=True)
class CasePlace:
    """Where routing last placed a case, and who it named to handle it."""

    micro_grid_code: str | None
    township_code: str | None
    departments: tuple[Department, ...]  # lead first, then assisting


@dataclass(frozen=True, slots=True)
class AssistTask:
    assist_id: str
    case_id: str
    worker_id: str
    micro_grid_code: str
    requested_by: str
    note: str
    requested_at: datetime
    status: str = "requested"
    done_at: datetime | None = None
    report: str | None = None

    def done(self, *, report: str, at: datetime) -> AssistTask:
        if self.status != "requested":
            raise AssistTaskDone(self.assist_id)
        return replace(self, status="done", report=report, done_at=at)


class AssistTaskUnknown(LookupError):
    field = "assist_id"

    def __init__(self, assist_id: str) -> None:
        super().__init__(f"there is no assisting task {assist_id}")


class AssistTaskDone(ValueError):
    field = "assist_id"
    code = "assist_task_done"

    def __init__(self, assist_id: str) -> None:
        super().__init__(f"assisting task {assist_id} is done already")


class NoAssistant(LookupError):
    """The case's micro-grid has no worker with the assistant role (409)."""

    field = "case_id"

    def __init__(self, case_id: str, micro_grid: str | None) -> None:
        super().__init__(
            f"case {case_id}: micro-grid {micro_grid or '(none)'} has no assistant (协管员) "
            "on the active roster"
        )


class NotTheAssistant(PermissionError):
    """Only the worker asked reports an assisting task done (403)."""

    field = "assist_id"
    code = "not_the_assistant"

    def __init__(self, assist: AssistTask, worker_id: str | None) -> None:
        super().__init__(
            f"grid worker {worker_id or '(no grid_worker binding)'} was not asked to assist "
            f"({assist.assist_id} is {assist.worker_id}'s)"
        )


def check_assistant(assist: AssistTask, worker_id: str | None) -> None:
    if worker_id != assist.worker_id:
        raise NotTheAssistant(assist, worker_id)


class NotHandlingTheCase(PermissionError):
    """Only the case's township or a department routing named for it asks (403)."""

    field = "case_id"
    code = "not_handling_the_case"


def check_may_request(actor: Actor, place: CasePlace, case_id: str) -> str:
    """Who asks, as recorded: the case's township official, or staff of a department
    routing named for the case (lead or assisting)."""
    if actor.has(Role.TOWNSHIP_OFFICIAL) and actor.township_code == place.township_code:
        return f"township:{actor.township_code}"
    if actor.has(Role.DEPARTMENT_STAFF) and actor.department in place.departments:
        return f"department:{actor.department}"
    raise NotHandlingTheCase(
        f"{actor.audit_name} is neither the township of case {case_id} nor a department handling it"
    )
