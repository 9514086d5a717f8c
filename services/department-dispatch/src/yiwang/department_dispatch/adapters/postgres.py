"""The dispatch repository on PostgreSQL, inside the unit of work's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, CommandLevel, DepartmentReplied, DepartmentRole
from yiwang.common.states import CaseState
from yiwang.department_dispatch.adapters.postgres_signing import PostgresSigningSecrets
from yiwang.department_dispatch.adapters.repository import DispatchRepository, RejectionRecord
from yiwang.department_dispatch.domain.model import (
    OPEN_WORK_ORDER,
    Attendance,
    DispatchCase,
    Whistle,
    WhistleAttendance,
    WorkOrder,
    WorkOrderStatus,
)
from yiwang.department_dispatch.domain.queries import WorkOrderPage, WorkOrderQuery
from yiwang.department_dispatch.domain.rulings import Ruling

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

WORK_ORDER_COLUMNS = (
    "work_order_id, case_id, department, role, command_level, round, status, deadline,"
    " issued_at, whistle_id, case_number, response_due, sla_policy, ruling_id, rehandling"
)
# A department's listing: $1 department, $2 statuses (NULL: any), $3 open (NULL: either),
# $4 the open statuses, $5 case id (NULL: any).
LISTING_FILTER = (
    " FROM work_order WHERE department = $1"
    " AND ($2::text[] IS NULL OR status = ANY($2::text[]))"
    " AND ($3::boolean IS NULL OR (status = ANY($4::text[])) = $3::boolean)"
    " AND ($5::text IS NULL OR case_id = $5::text)"
)


def _work_order(row: Any) -> WorkOrder:
    return WorkOrder(
        work_order_id=row["work_order_id"],
        case_id=row["case_id"],
        department=Department(row["department"]),
        role=DepartmentRole(row["role"]),
        command_level=CommandLevel(row["command_level"]),
        round=row["round"],
        status=WorkOrderStatus(row["status"]),
        deadline=row["deadline"],
        issued_at=row["issued_at"],
        whistle_id=row["whistle_id"],
        case_number=row["case_number"],
        response_due=row["response_due"],
        sla_policy=row["sla_policy"],
        ruling_id=row["ruling_id"],
        rehandling=row["rehandling"],
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


class PostgresDispatchRepository(PostgresSigningSecrets, DispatchRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get_case(self, case_id: str, *, lock: bool = False) -> DispatchCase | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM dispatch_case WHERE case_id = $1" + (" FOR UPDATE" if lock else ""),
            case_id,
        )
        if row is None:
            return None
        return DispatchCase(
            case_id=row["case_id"],
            state=CaseState(row["state"]),
            attempt=row["attempt"],
            command_level=CommandLevel(row["command_level"]),
            lead_department=Department(row["lead_department"]),
            routed=CaseRouted.model_validate_json(row["routed"]),
            clock_started_at=row["clock_started_at"],
            return_count=row["return_count"],
            escalations=row["escalations"],
            ruling_id=row["ruling_id"],
            rehandling=row["rehandling"],
        )

    async def save_case(self, case: DispatchCase) -> None:
        await self._conn.execute(
            "INSERT INTO dispatch_case (case_id, state, attempt, command_level, lead_department,"
            " return_count, routed, clock_started_at, escalations, ruling_id, rehandling)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)"
            " ON CONFLICT (case_id) DO UPDATE SET state = $2, attempt = $3, command_level = $4,"
            " lead_department = $5, return_count = $6, routed = $7::jsonb,"
            " clock_started_at = $8, escalations = $9, ruling_id = $10, rehandling = $11,"
            " updated_at = now()",
            case.case_id,
            case.state.value,
            case.attempt,
            case.command_level.value,
            case.lead_department.value,
            case.return_count,
            case.routed.model_dump_json(),
            case.clock_started_at,
            case.escalations,
            case.ruling_id,
            case.rehandling,
        )

    async def add_work_order(self, order: WorkOrder) -> bool:
        inserted = await self._conn.fetchval(
            f"INSERT INTO work_order ({WORK_ORDER_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            " ON CONFLICT (case_id, department, round) DO NOTHING RETURNING true",
            order.work_order_id,
            order.case_id,
            order.department.value,
            order.role.value,
            order.command_level.value,
            order.round,
            order.status.value,
            order.deadline,
            order.issued_at,
            order.whistle_id,
            order.case_number,
            order.response_due,
            order.sla_policy,
            order.ruling_id,
            order.rehandling,
        )
        return bool(inserted)

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
        return _work_order(row) if row else None

    async def work_orders_of(self, case_id: str) -> list[WorkOrder]:
        rows = await self._conn.fetch(
            f"SELECT {WORK_ORDER_COLUMNS} FROM work_order WHERE case_id = $1 ORDER BY issued_at",
            case_id,
        )
        return [_work_order(r) for r in rows]

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
        return WorkOrderPage(total=total, orders=[_work_order(r) for r in rows])

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
