"""The read side: searches, timelines, ledgers and report inputs, straight from SQL."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from yiwang.oversight.adapters.assessments import assessments_between
from yiwang.oversight.adapters.postgres import entry_from_row
from yiwang.oversight.domain.access import EVERY_CASE, CaseScope
from yiwang.oversight.domain.assessment import TownshipAssessment
from yiwang.oversight.domain.kpi import CaseFigures, WhistleCall
from yiwang.oversight.domain.projection import TimelineEntry
from yiwang.oversight.domain.reconciliation import ProjectedCase

OVERDUE_SQL = (
    "((response_running AND response_due <= $1) OR (resolution_running AND resolution_due <= $1))"
)
# Cases that count: duplicates (even once closed with their master) and rejected
# submissions are not work for anyone.
COUNTED_SQL = "NOT duplicate AND coalesce(state, '') NOT IN ('duplicate', 'rejected')"


@dataclass(frozen=True, slots=True)
class CaseSearch:
    state: str | None = None
    department: str | None = None
    township: str | None = None
    category: str | None = None
    overdue: bool | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    limit: int = 50
    offset: int = 0
    # Whose cases the search may return (the caller's): by default every case.
    scope: CaseScope = EVERY_CASE


@dataclass(frozen=True, slots=True)
class LedgerLine:
    department: str
    township: str | None
    open: int
    overdue: int
    resolved: int
    closed: int


class OversightReader(abc.ABC):
    @abc.abstractmethod
    async def case(self, case_id: str, *, now: datetime) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def timeline(self, case_id: str) -> list[TimelineEntry]: ...

    @abc.abstractmethod
    async def case_records(self, table: str, case_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def search(
        self, search: CaseSearch, *, now: datetime
    ) -> tuple[int, list[dict[str, Any]]]: ...

    @abc.abstractmethod
    async def kpi_inputs(
        self, *, start: datetime, end: datetime
    ) -> tuple[list[CaseFigures], list[WhistleCall]]: ...

    @abc.abstractmethod
    async def ledger(self, *, now: datetime) -> list[LedgerLine]: ...

    @abc.abstractmethod
    async def activity(self, *, start: datetime, end: datetime) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def assessments(self, *, first: date, last: date) -> list[TownshipAssessment]:
        """The townships' assessments of the months that touch first..last."""

    @abc.abstractmethod
    async def projected_cases(self, *, start: datetime, end: datetime) -> dict[str, ProjectedCase]:
        """对账: every case received in [start, end), duplicates included, and whether it
        was ever dispatched."""


_CASE_COLUMNS = "*, " + OVERDUE_SQL + " AS overdue"
_RECORD_TABLES = {
    "alerts": "raised_at",
    "evaluations": "evaluated_at",
    "follow_up_calls": "called_at",
}


class PostgresOversightReader(OversightReader):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def case(self, case_id: str, *, now: datetime) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = $2", now, case_id
        )
        return dict(row) if row else None

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        rows = await self._pool.fetch("SELECT * FROM timeline WHERE case_id = $1", case_id)
        return [entry_from_row(row) for row in rows]

    async def case_records(self, table: str, case_id: str) -> list[dict[str, Any]]:
        order = _RECORD_TABLES[table]  # a fixed whitelist: safe to interpolate
        rows = await self._pool.fetch(
            f"SELECT * FROM {table} WHERE case_id = $1 ORDER BY {order}", case_id
        )
        return [dict(r) for r in rows]

    async def search(
        self, search: CaseSearch, *, now: datetime
    ) -> tuple[int, list[dict[str, Any]]]:
        where: list[str] = ["$1::timestamptz IS NOT NULL"]  # $1 is `now`, used by OVERDUE_SQL
        args: list[Any] = [now]
        for column, value in (
            ("state", search.state),
            ("lead_department", search.department),
            ("township_code", search.township),
            ("category", search.category),
        ):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if search.received_from is not None:
            args.append(search.received_from)
            where.append(f"started_at >= ${len(args)}")
        if search.received_to is not None:
            args.append(search.received_to)
            where.append(f"started_at < ${len(args)}")
        if search.overdue is not None:
            where.append(OVERDUE_SQL if search.overdue else f"NOT {OVERDUE_SQL}")
        scope = search.scope
        if not scope.everything:
            either: list[str] = []
            for column, value in (
                ("township_code", scope.township),
                ("lead_department", scope.department),
            ):
                if value is not None:
                    args.append(value)
                    either.append(f"{column} = ${len(args)}")
            where.append(f"({' OR '.join(either)})" if either else "false")
        clause = " AND ".join(where)
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM cases WHERE {clause}", *args)
            rows = await conn.fetch(
                f"SELECT {_CASE_COLUMNS} FROM cases WHERE {clause}"
                f" ORDER BY started_at DESC NULLS LAST, case_id"
                f" LIMIT {int(search.limit)} OFFSET {int(search.offset)}",
                *args,
            )
        return int(total), [dict(r) for r in rows]

    async def kpi_inputs(
        self, *, start: datetime, end: datetime
    ) -> tuple[list[CaseFigures], list[WhistleCall]]:
        async with self._pool.acquire() as conn:
            cases = await conn.fetch(
                "SELECT case_id, lead_department, township_code, lead_history, returned_by,"
                " return_count, responded_at, resolved_at, response_due, resolution_due, score,"
                " rehandling, rehandled_to_hub, ruled, state = 'closed' AS closed,"
                " coalesce(closed_after_evaluation, false) AS closed_after_evaluation,"
                " micro_grid, grid_outcome, category, channel, is_open"
                f" FROM cases WHERE started_at >= $1 AND started_at < $2 AND {COUNTED_SQL}",
                start,
                end,
            )
            calls = await conn.fetch(
                "SELECT whistle_id, department, township_code, report_by, reported_at, on_time"
                " FROM whistle_calls WHERE blown_at >= $1 AND blown_at < $2",
                start,
                end,
            )
        return (
            [
                CaseFigures(
                    case_id=r["case_id"],
                    lead_department=r["lead_department"],
                    township_code=r["township_code"],
                    lead_history=tuple(r["lead_history"]),
                    returned_by=tuple(r["returned_by"]),
                    return_count=r["return_count"],
                    responded_at=r["responded_at"],
                    resolved_at=r["resolved_at"],
                    response_due=r["response_due"],
                    resolution_due=r["resolution_due"],
                    score=r["score"],
                    rehandling=r["rehandling"],
                    rehandled_to_hub=r["rehandled_to_hub"],
                    ruled=r["ruled"],
                    closed=r["closed"],
                    closed_after_evaluation=r["closed_after_evaluation"],
                    micro_grid=r["micro_grid"],
                    grid_outcome=r["grid_outcome"],
                    category=r["category"],
                    channel=r["channel"],
                    is_open=r["is_open"],
                )
                for r in cases
            ],
            [WhistleCall(**dict(r)) for r in calls],
        )

    async def ledger(self, *, now: datetime) -> list[LedgerLine]:
        rows = await self._pool.fetch(
            "SELECT coalesce(lead_department, 'unassigned') AS department, township_code AS township,"
            " count(*) FILTER (WHERE is_open) AS open,"
            f" count(*) FILTER (WHERE {OVERDUE_SQL}) AS overdue,"
            " count(*) FILTER (WHERE state IN ('resolved', 'evaluated') AND NOT is_open)"
            " AS resolved,"
            " count(*) FILTER (WHERE state = 'closed') AS closed"
            f" FROM cases WHERE {COUNTED_SQL} GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST",
            now,
        )
        return [LedgerLine(**dict(r)) for r in rows]

    async def activity(self, *, start: datetime, end: datetime) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            received = await conn.fetch(
                "SELECT coalesce(lead_department, 'unassigned') AS department, count(*) AS n"
                f" FROM cases WHERE started_at >= $1 AND started_at < $2 AND {COUNTED_SQL}"
                " GROUP BY 1",
                start,
                end,
            )
            # A step counts for the department it names, else the case's lead: every
            # closed case, whoever closed it; duplicates closed with their master do not.
            transitions = await conn.fetch(
                "SELECT t.to_state, coalesce(t.attrs->>'department', c.lead_department,"
                " 'unassigned') AS department, count(*) AS n FROM timeline t"
                " LEFT JOIN cases c ON c.case_id = t.case_id"
                " WHERE t.kind = 'state_changed' AND t.at >= $1 AND t.at < $2"
                " AND NOT coalesce(c.duplicate, false) GROUP BY 1, 2",
                start,
                end,
            )
            alerts = await conn.fetch(
                "SELECT kind, command_level, count(*) AS n FROM alerts"
                " WHERE raised_at >= $1 AND raised_at < $2 GROUP BY 1, 2",
                start,
                end,
            )
        return {
            "received": {r["department"]: r["n"] for r in received},
            "transitions": [dict(r) for r in transitions],
            "alerts": [dict(r) for r in alerts],
        }

    async def assessments(self, *, first: date, last: date) -> list[TownshipAssessment]:
        return await assessments_between(self._pool, first=first, last=last)

    async def projected_cases(self, *, start: datetime, end: datetime) -> dict[str, ProjectedCase]:
        rows = await self._pool.fetch(
            "SELECT c.case_id, c.state, EXISTS (SELECT 1 FROM timeline t"
            " WHERE t.case_id = c.case_id AND t.kind = 'state_changed'"
            " AND t.to_state = 'dispatched') AS dispatched"
            " FROM cases c WHERE c.started_at >= $1 AND c.started_at < $2",
            start,
            end,
        )
        return {
            r["case_id"]: ProjectedCase(r["case_id"], r["state"], r["dispatched"]) for r in rows
        }
