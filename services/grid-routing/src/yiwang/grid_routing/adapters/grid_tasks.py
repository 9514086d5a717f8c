"""Grid tasks and the active roster as the handlers see them, in the handler's
transaction (the routing unit of work's `grid_tasks`)."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from yiwang.common.departments import Department
from yiwang.common.events import WorkerRole
from yiwang.grid_routing.domain.assists import AssistTask, CasePlace
from yiwang.grid_routing.domain.grid_tasks import GridTask, GridTaskStatus
from yiwang.grid_routing.domain.notices import GridNotice
from yiwang.grid_routing.domain.roster import GridWorker

_ACTIVE = "(SELECT version FROM active_roster)"
_TASK_COLUMNS = (
    "task_id, case_id, worker_id, micro_grid_code, township_code, category, title,"
    " lead_department, status, informant, assigned_at, due_at, acknowledged_at, closed_at,"
    " closed_by, note, photo_urls, reason"
)


class GridTaskRepository(abc.ABC):
    @abc.abstractmethod
    async def agents_for(
        self, micro_grid_codes: Sequence[str], role: WorkerRole = WorkerRole.AGENT
    ) -> dict[str, GridWorker]:
        """Per micro-grid, the first (by id) worker of the active roster with `role` there:
        by default the agent (代办员) who takes its small matters."""

    @abc.abstractmethod
    async def worker(self, worker_id: str) -> GridWorker | None:
        """A worker on the active roster."""

    @abc.abstractmethod
    async def add_many(self, tasks: Sequence[GridTask]) -> None: ...

    @abc.abstractmethod
    async def get(self, task_id: str) -> GridTask | None:
        """The task, locked for the rest of the transaction."""

    @abc.abstractmethod
    async def of_case(self, case_id: str) -> GridTask | None:
        """The case's task, locked for the rest of the transaction."""

    @abc.abstractmethod
    async def save(self, task: GridTask) -> None: ...

    @abc.abstractmethod
    async def overdue(self, now: datetime, *, limit: int) -> list[str]:
        """Open tasks whose grid deadline has passed, oldest deadline first (skipping any
        another transaction holds)."""

    @abc.abstractmethod
    async def of_worker(self, worker_id: str, *, open_only: bool) -> list[GridTask]: ...

    @abc.abstractmethod
    async def micro_grid_of(self, case_id: str) -> str | None:
        """The micro-grid routing last placed the case in."""

    @abc.abstractmethod
    async def place_of(self, case_id: str) -> CasePlace | None:
        """Where routing last placed the case and whom it named (None: never routed)."""

    @abc.abstractmethod
    async def assistant_for(self, micro_grid_code: str) -> GridWorker | None:
        """The first (by id) worker of the active roster with the assistant role there."""

    @abc.abstractmethod
    async def add_assist(self, assist: AssistTask) -> None: ...

    @abc.abstractmethod
    async def get_assist(self, assist_id: str) -> AssistTask | None:
        """Locked for the rest of the transaction."""

    @abc.abstractmethod
    async def save_assist(self, assist: AssistTask) -> None: ...

    @abc.abstractmethod
    async def assists_of(self, worker_id: str, *, open_only: bool) -> list[AssistTask]: ...

    @abc.abstractmethod
    async def add_notice(self, notice: GridNotice) -> None: ...

    @abc.abstractmethod
    async def notices_of(self, case_id: str) -> list[GridNotice]: ...

    @abc.abstractmethod
    async def audit(
        self, *, at: datetime, actor: str, task: GridTask, action: str, outcome: str, detail: str
    ) -> None: ...


class PostgresGridTaskRepository(GridTaskRepository):
    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        self._conn = conn

    async def agents_for(
        self, micro_grid_codes: Sequence[str], role: WorkerRole = WorkerRole.AGENT
    ) -> dict[str, GridWorker]:
        if not micro_grid_codes:
            return {}
        rows = await self._conn.fetch(
            "SELECT DISTINCT ON (m.code) m.code, w.worker_id, w.name, w.micro_grids, w.roles"
            f" FROM grid_workers w, unnest(w.micro_grids) AS m(code)"
            f" WHERE w.roster = {_ACTIVE} AND w.micro_grids && $1::text[]"
            " AND m.code = ANY($1::text[]) AND $2 = ANY(w.roles)"
            " ORDER BY m.code, w.worker_id",
            list(micro_grid_codes),
            role.value,
        )
        return {r["code"]: worker_from(r) for r in rows}

    async def worker(self, worker_id: str) -> GridWorker | None:
        row = await self._conn.fetchrow(
            "SELECT worker_id, name, micro_grids, roles FROM grid_workers"
            f" WHERE roster = {_ACTIVE} AND worker_id = $1",
            worker_id,
        )
        return worker_from(row) if row else None

    async def add_many(self, tasks: Sequence[GridTask]) -> None:
        for task in tasks:
            await self._conn.execute(
                f"INSERT INTO grid_tasks ({_TASK_COLUMNS}) VALUES"
                " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17::jsonb,$18)",
                *_row(task),
            )

    async def get(self, task_id: str) -> GridTask | None:
        row = await self._conn.fetchrow(
            f"SELECT {_TASK_COLUMNS} FROM grid_tasks WHERE task_id = $1 FOR UPDATE", task_id
        )
        return task_from(row) if row else None

    async def of_case(self, case_id: str) -> GridTask | None:
        row = await self._conn.fetchrow(
            f"SELECT {_TASK_COLUMNS} FROM grid_tasks WHERE case_id = $1 FOR UPDATE", case_id
        )
        return task_from(row) if row else None

    async def save(self, task: GridTask) -> None:
        await self._conn.execute(
            "UPDATE grid_tasks SET status = $2, acknowledged_at = $3, closed_at = $4,"
            " closed_by = $5, note = $6, photo_urls = $7::jsonb, reason = $8 WHERE task_id = $1",
            task.task_id,
            task.status.value,
            task.acknowledged_at,
            task.closed_at,
            task.closed_by,
            task.note,
            json.dumps(list(task.photo_urls)),
            task.reason,
        )

    async def overdue(self, now: datetime, *, limit: int) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT task_id FROM grid_tasks WHERE status IN ('assigned', 'acknowledged')"
            " AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [r["task_id"] for r in rows]

    async def of_worker(self, worker_id: str, *, open_only: bool) -> list[GridTask]:
        rows = await self._conn.fetch(
            f"SELECT {_TASK_COLUMNS} FROM grid_tasks WHERE worker_id = $1"
            " AND (NOT $2 OR status IN ('assigned', 'acknowledged'))"
            " ORDER BY assigned_at DESC LIMIT 500",
            worker_id,
            open_only,
        )
        return [task_from(r) for r in rows]

    async def micro_grid_of(self, case_id: str) -> str | None:
        code = await self._conn.fetchval(
            "SELECT micro_grid_code FROM routing_decisions WHERE case_id = $1"
            " ORDER BY attempt DESC LIMIT 1",
            case_id,
        )
        return None if code is None else str(code)

    async def place_of(self, case_id: str) -> CasePlace | None:
        row = await self._conn.fetchrow(
            "SELECT micro_grid_code, township_code, lead_department, assisting_departments"
            " FROM routing_decisions WHERE case_id = $1 ORDER BY attempt DESC LIMIT 1",
            case_id,
        )
        if row is None:
            return None
        departments = (row["lead_department"], *row["assisting_departments"])
        return CasePlace(
            row["micro_grid_code"], row["township_code"], tuple(Department(d) for d in departments)
        )

    async def assistant_for(self, micro_grid_code: str) -> GridWorker | None:
        row = await self._conn.fetchrow(
            "SELECT worker_id, name, micro_grids, roles FROM grid_workers"
            f" WHERE roster = {_ACTIVE} AND $1 = ANY(micro_grids) AND $2 = ANY(roles)"
            " ORDER BY worker_id LIMIT 1",
            micro_grid_code,
            WorkerRole.ASSISTANT.value,
        )
        return worker_from(row) if row else None

    async def add_assist(self, assist: AssistTask) -> None:
        await self._conn.execute(
            f"INSERT INTO assist_tasks ({_ASSIST_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            *_assist_row(assist),
        )

    async def get_assist(self, assist_id: str) -> AssistTask | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ASSIST_COLUMNS} FROM assist_tasks WHERE assist_id = $1 FOR UPDATE",
            assist_id,
        )
        return AssistTask(**dict(row)) if row else None

    async def save_assist(self, assist: AssistTask) -> None:
        await self._conn.execute(
            "UPDATE assist_tasks SET status = $2, done_at = $3, report = $4 WHERE assist_id = $1",
            assist.assist_id,
            assist.status,
            assist.done_at,
            assist.report,
        )

    async def assists_of(self, worker_id: str, *, open_only: bool) -> list[AssistTask]:
        rows = await self._conn.fetch(
            f"SELECT {_ASSIST_COLUMNS} FROM assist_tasks WHERE worker_id = $1"
            " AND (NOT $2 OR status = 'requested') ORDER BY requested_at DESC LIMIT 500",
            worker_id,
            open_only,
        )
        return [AssistTask(**dict(r)) for r in rows]

    async def add_notice(self, notice: GridNotice) -> None:
        await self._conn.execute(
            "INSERT INTO grid_notices (notice_id, case_id, worker_id, micro_grid_code, text,"
            " published_at) VALUES ($1, $2, $3, $4, $5, $6)",
            notice.notice_id,
            notice.case_id,
            notice.worker_id,
            notice.micro_grid_code,
            notice.text,
            notice.published_at,
        )

    async def notices_of(self, case_id: str) -> list[GridNotice]:
        rows = await self._conn.fetch(
            "SELECT notice_id, case_id, worker_id, micro_grid_code, text, published_at"
            " FROM grid_notices WHERE case_id = $1 ORDER BY published_at LIMIT 500",
            case_id,
        )
        return [GridNotice(**dict(r)) for r in rows]

    async def audit(
        self, *, at: datetime, actor: str, task: GridTask, action: str, outcome: str, detail: str
    ) -> None:
        await self._conn.execute(
            "INSERT INTO grid_task_audit (at, actor, task_id, case_id, action, outcome, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            at,
            actor,
            task.task_id,
            task.case_id,
            action,
            outcome,
            detail,
        )


_ASSIST_COLUMNS = (
    "assist_id, case_id, worker_id, micro_grid_code, requested_by, note, requested_at, status,"
    " done_at, report"
)


def _assist_row(a: AssistTask) -> tuple[object, ...]:
    return (a.assist_id, a.case_id, a.worker_id, a.micro_grid_code, a.requested_by, a.note,
            a.requested_at, a.status, a.done_at, a.report)  # fmt: skip


def worker_from(row: asyncpg.Record) -> GridWorker:
    return GridWorker(
        worker_id=row["worker_id"],
        name=row["name"],
        micro_grids=tuple(row["micro_grids"]),
        roles=frozenset(WorkerRole(r) for r in row["roles"]),
    )


def task_from(row: asyncpg.Record) -> GridTask:
    return GridTask(
        task_id=row["task_id"],
        case_id=row["case_id"],
        worker_id=row["worker_id"],
        micro_grid_code=row["micro_grid_code"],
        township_code=row["township_code"],
        category=row["category"],
        title=row["title"],
        lead_department=Department(row["lead_department"]),
        status=GridTaskStatus(row["status"]),
        informant=row["informant"],
        assigned_at=row["assigned_at"],
        due_at=row["due_at"],
        acknowledged_at=row["acknowledged_at"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        note=row["note"],
        photo_urls=tuple(json.loads(row["photo_urls"])),
        reason=row["reason"],
    )


def _row(task: GridTask) -> tuple[object, ...]:
    return (
        task.task_id,
        task.case_id,
        task.worker_id,
        task.micro_grid_code,
        task.township_code,
        task.category,
        task.title,
        task.lead_department.value,
        task.status.value,
        task.informant,
        task.assigned_at,
        task.due_at,
        task.acknowledged_at,
        task.closed_at,
        task.closed_by,
        task.note,
        json.dumps(list(task.photo_urls)),
        task.reason,
    )
