"""A poll's worth of dispatch writes and reads, each in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from yiwang.common.postgres.unit_of_work import one_statement
from yiwang.department_dispatch.adapters.rows import (
    WORK_ORDER_COLUMNS,
    case_from_row,
    case_values,
    work_order_from_row,
)
from yiwang.department_dispatch.domain.model import DispatchCase, WorkOrder

# $1-$15: one array per column of WORK_ORDER_COLUMNS, in its order.
_ADD_WORK_ORDERS = (
    f"INSERT INTO work_order ({WORK_ORDER_COLUMNS}) SELECT * FROM unnest($1::text[],"
    " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
    " $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::timestamptz[],"
    " $13::text[], $14::text[], $15::int[])"
    " ON CONFLICT (case_id, department, round) DO NOTHING RETURNING work_order_id"
)

# $1-$11: one array per column, in case_values' order.
_SAVE_CASES = (
    "INSERT INTO dispatch_case (case_id, state, attempt, command_level, lead_department,"
    " return_count, routed, clock_started_at, escalations, ruling_id, rehandling)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[],"
    " $6::int[], $7::jsonb[], $8::timestamptz[], $9::int[], $10::text[], $11::int[])"
    " ON CONFLICT (case_id) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,"
    " command_level = excluded.command_level, lead_department = excluded.lead_department,"
    " return_count = excluded.return_count, routed = excluded.routed,"
    " clock_started_at = excluded.clock_started_at, escalations = excluded.escalations,"
    " ruling_id = excluded.ruling_id, rehandling = excluded.rehandling, updated_at = now()"
)


class PostgresDispatchBatches:
    _conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

    async def get_cases(
        self, case_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, DispatchCase]:
        rows = await self._conn.fetch(
            "SELECT * FROM dispatch_case WHERE case_id = ANY($1::text[]) ORDER BY case_id"
            + (" FOR UPDATE" if lock else ""),
            list(case_ids),
        )
        return {row["case_id"]: case_from_row(row) for row in rows}

    async def work_orders_of_cases(self, case_ids: Sequence[str]) -> dict[str, list[WorkOrder]]:
        rows = await self._conn.fetch(
            f"SELECT {WORK_ORDER_COLUMNS} FROM work_order WHERE case_id = ANY($1::text[])"
            " ORDER BY issued_at",
            list(case_ids),
        )
        found: dict[str, list[WorkOrder]] = {case_id: [] for case_id in case_ids}
        for row in rows:
            found[row["case_id"]].append(work_order_from_row(row))
        return found

    async def save_cases(self, cases: Sequence[DispatchCase]) -> None:
        if cases:
            await self._conn.execute(_SAVE_CASES, *_case_columns(cases))

    async def save_work_orders(self, orders: Sequence[WorkOrder]) -> None:
        if orders:
            await self._conn.executemany(
                "UPDATE work_order SET status = $2, updated_at = now() WHERE work_order_id = $1",
                [(order.work_order_id, order.status.value) for order in orders],
            )

    async def add_work_orders(self, orders: Sequence[WorkOrder]) -> set[str]:
        """The ids of those added: none where the case has an order for that department
        in that round already."""
        if not orders:
            return set()
        rows = await self._conn.fetch(_ADD_WORK_ORDERS, *_order_columns(orders))
        return {row["work_order_id"] for row in rows}

    async def save_cases_issuing(
        self, cases: Sequence[DispatchCase], orders: Sequence[WorkOrder]
    ) -> set[str]:
        """One statement: the cases saved, and their orders added (checked against the
        cases at its end). The ids of the orders added."""
        if not cases or not orders:
            await self.save_cases(cases)
            return await self.add_work_orders(orders)
        statement, args = one_statement(
            [(_SAVE_CASES, _case_columns(cases)), (_ADD_WORK_ORDERS, _order_columns(orders))]
        )
        rows = await self._conn.fetch(statement, *args)
        return {row["work_order_id"] for row in rows}


def _case_columns(cases: Sequence[DispatchCase]) -> list[list[Any]]:
    """One list per column of _SAVE_CASES, from case_values (the one-row statement's)."""
    return [list(column) for column in zip(*map(case_values, cases), strict=True)]


def _order_columns(orders: Sequence[WorkOrder]) -> list[list[Any]]:
    return [
        [o.work_order_id for o in orders],
        [o.case_id for o in orders],
        [o.department.value for o in orders],
        [o.role.value for o in orders],
        [o.command_level.value for o in orders],
        [o.round for o in orders],
        [o.status.value for o in orders],
        [o.deadline for o in orders],
        [o.issued_at for o in orders],
        [o.whistle_id for o in orders],
        [o.case_number for o in orders],
        [o.response_due for o in orders],
        [o.sla_policy for o in orders],
        [o.ruling_id for o in orders],
        [o.rehandling for o in orders],
    ]
