"""The dispatch repository on PostgreSQL, inside the unit of work's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.department_dispatch.adapters.postgres_batches import PostgresDispatchBatches
from yiwang.department_dispatch.adapters.postgres_signing import PostgresSigningSecrets
from yiwang.department_dispatch.adapters.repository import DispatchRepository, RejectionRecord
from yiwang.department_dispatch.adapters.rows import (
    SAVE_CASE,
    WORK_ORDER_COLUMNS,
    case_from_row,
    case_values,
    work_order_from_row,
)
from yiwang.department_dispatch.domain.model import (
    OPEN_WORK_ORDER,
    Attendance,
    DispatchCase,
    Whistle,
    WhistleAttendance,
    WorkOrder,
)
from yiwang.department_dispatch.domain.queries import WorkOrderPage, WorkOrderQuery
from yiwang.department_dispatch.domain.rulings import Ruling

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# A department's listing: $1 department, $2 statuses (NULL: any), $3 open (NULL: either),
# $4 the open statuses, $5 case id (NULL: any).
LISTING_FILTER = (
    " FROM work_order WHERE department = $1"
    " AND ($2::text[] IS NULL OR status = ANY($2::text[]))"
    " AND ($3::boolean IS NULL OR (status = ANY($4::text[])) = $3::boolean)"
    " AND ($5::text IS NULL OR case_id = $5::text)"
)


def _attendance(row: Any) -> WhistleAttendance:
    return WhistleAttendance(
        whistle_id=row["whistle_id"],
        department=Department(row["department"]),
        report_by=row["report_by"],
        township_code=row["township_code"],
        case_id=row["case_id"],
        reported_at=row["reported_at"],
        outcome=Attendance(row["outcome"]) if row["outcome"] else None,
    )


class PostgresDispatchRepository(
    PostgresDispatchBatches, PostgresSigningSecrets, DispatchRepository
):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get_case(self, case_id: str, *, lock: bool = False) -> DispatchCase | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM dispatch_case WHERE case_id = $1" + (" FOR UPDATE" if lock else ""),
            case_id,
        )
        return case_from_row(row) if row is not None else None

    async def save_case(self, case: DispatchCase) -> None:
        await self._conn.execute(SAVE_CASE, *case_values(case))

    async def add_work_order(self, order: WorkOrder) -> bool:
        return bool(await self.add_work_orders([order]))

    async def save_work_order(self, order: WorkOrder) -> None:
        await self._conn.execute(
            "UPDATE work_order SET status = $2, updated_at = now() WHERE work_order_id = $1",
            order.work_order_id,
            order.status.value,
        )

    async def get_work_order(self, work_order_id: str) -> WorkOrder | None:
        row = await self._conn.fetchrow(
            f"SELECT {WORK_ORDER_COLUMNS} FROM work_order WHERE work_order_id = $1", work_order_id
        )
        return work_order_from_row(row) if row else None

    async def work_orders_of(self, case_id: str) -> list[WorkOrder]:
        rows = await self._conn.fetch(
            f"SELECT {WORK_ORDER_COLUMNS} FROM work_order WHERE case_id = $1 ORDER BY issued_at",
            case_id,
        )
        return [work_order_from_row(r) for r in rows]

    async def list_work_orders(
        self, department: Department, query: WorkOrderQuery
    ) -> WorkOrderPage:
        args = (
            department.value,
            sorted(s.value for s in query.statuses) or None,
            query.open,
            sorted(s.value for s in OPEN_WORK_ORDER),
            query.case_id,
        )
        total = await self._conn.fetchval("SELECT count(*)" + LISTING_FILTER, *args)
        rows = await self._conn.fetch(
            f"SELECT {WORK_ORDER_COLUMNS}" + LISTING_FILTER + " ORDER BY issued_at DESC,"
            " work_order_id DESC LIMIT $6 OFFSET $7",
            *args,
            query.limit,
            query.offset,
        )
        return WorkOrderPage(total=total, orders=[work_order_from_row(r) for r in rows])

    async def add_ruling(self, ruling: Ruling) -> None:
        await self._conn.execute(
            "INSERT INTO ruling (ruling_id, case_id, attempt, department, reason, ruled_by,"
            " ruled_at, returned_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ruling.ruling_id,
            ruling.case_id,
            ruling.attempt,
            ruling.department.value,
            ruling.reason,
            ruling.ruled_by,
            ruling.ruled_at,
            [d.value for d in ruling.returned_by],
        )

    async def reply_applied(self, department: Department, reply_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT true FROM reply WHERE department = $1 AND reply_id = $2",
                department.value,
                reply_id,
            )
        )

    async def add_reply(
        self,
        reply: DepartmentReplied,
        *,
        department: Department,
        channel: str,
        at: datetime,
        actor: str,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO reply (department, reply_id, case_id, work_order_id, kind, channel, body,"
            " received_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)",
            department.value,
            reply.reply_id,
            reply.case_id,
            reply.work_order_id,
            reply.kind.value,
            channel,
            reply.model_dump_json(),
            at,
            actor,
        )

    async def add_rejection(self, rejection: RejectionRecord) -> None:
        r = rejection
        await self._conn.execute(
            "INSERT INTO reply_rejection (at, channel, department, claimed, case_id,"
            " work_order_id, reply_id, kind, reason, detail, security, actor)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            r.at,
            r.channel,
            r.department.value if r.department else None,
            r.claimed,
            r.case_id,
            r.work_order_id,
            r.reply_id,
            r.kind,
            r.reason,
            r.detail,
            r.security,
            r.actor,
        )

    async def add_whistle(self, whistle: Whistle) -> None:
        await self._conn.execute(
            "INSERT INTO whistle (whistle_id, case_id, township_code, departments, report_by,"
            " reason, blown_at, blown_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            whistle.whistle_id,
            whistle.case_id,
            whistle.township_code,
            [d.value for d in whistle.departments],
            whistle.report_by,
            whistle.reason,
            whistle.blown_at,
            whistle.blown_by,
        )
        await self._conn.executemany(
            "INSERT INTO whistle_attendance (whistle_id, department, report_by)"
            " VALUES ($1, $2, $3)",
            [(whistle.whistle_id, d.value, whistle.report_by) for d in whistle.departments],
        )

    _ATTENDANCE = (
        "SELECT a.whistle_id, a.department, a.report_by, a.reported_at, a.outcome,"
        " w.township_code, w.case_id FROM whistle_attendance a"
        " JOIN whistle w USING (whistle_id)"
    )

    async def get_attendance(
        self, whistle_id: str, department: Department
    ) -> WhistleAttendance | None:
        row = await self._conn.fetchrow(
            self._ATTENDANCE + " WHERE a.whistle_id = $1 AND a.department = $2 FOR UPDATE OF a",
            whistle_id,
            department.value,
        )
        return _attendance(row) if row else None

    async def save_attendance(self, attendance: WhistleAttendance) -> None:
        await self._conn.execute(
            "UPDATE whistle_attendance SET reported_at = $3, outcome = $4"
            " WHERE whistle_id = $1 AND department = $2",
            attendance.whistle_id,
            attendance.department.value,
            attendance.reported_at,
            attendance.outcome.value if attendance.outcome else None,
        )

    async def lock_overdue_attendances(
        self, *, now: datetime, limit: int
    ) -> list[WhistleAttendance]:
        rows = await self._conn.fetch(
            self._ATTENDANCE + " WHERE a.outcome IS NULL AND a.report_by <= $1"
            " ORDER BY a.report_by LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
            now,
            limit,
        )
        return [_attendance(r) for r in rows]

    async def principal_for_key(self, key_hash: str) -> str | None:
        principal: str | None = await self._conn.fetchval(
            "SELECT principal FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
        )
        return principal

    async def add_api_key(self, key_hash: str, *, principal: str) -> None:
        await self._conn.execute(
            "INSERT INTO api_key (key_hash, principal) VALUES ($1, $2)", key_hash, principal
        )

    async def revoke_api_keys(self, principal: str) -> int:
        status = await self._conn.execute(
            "UPDATE api_key SET revoked_at = now() WHERE principal = $1 AND revoked_at IS NULL",
            principal,
        )
        return int(status.split()[-1])
