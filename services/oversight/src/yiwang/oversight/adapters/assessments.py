"""一考双评's store: townships' monthly assessments of departments, and whether a
department handled a case in a township in a month (what may be assessed)."""

from __future__ import annotations

import abc
from datetime import date, datetime

import asyncpg
from yiwang.oversight.domain.assessment import TownshipAssessment

_COLUMNS = (
    "assessment_id, township_code, department, month, score, comment, assessed_by, assessed_at"
)


def assessment_of(row: asyncpg.Record) -> TownshipAssessment:
    return TownshipAssessment(**dict(row))


class AssessmentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, assessment: TownshipAssessment) -> bool:
        """False if the township assessed the department for that month already."""

    @abc.abstractmethod
    async def handled_in(
        self, *, township_code: str, department: str, start: datetime, end: datetime
    ) -> bool:
        """Whether the department led a case in the township that was received, or that it
        acted on, between the two instants."""


class PostgresAssessmentRepository(AssessmentRepository):
    def __init__(self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        self._conn = conn

    async def add(self, assessment: TownshipAssessment) -> bool:
        inserted = await self._conn.fetchval(
            f"INSERT INTO township_assessments ({_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (township_code, department, month) DO NOTHING RETURNING true",
            assessment.assessment_id,
            assessment.township_code,
            assessment.department,
            assessment.month,
            assessment.score,
            assessment.comment,
            assessment.assessed_by,
            assessment.assessed_at,
        )
        return bool(inserted)

    async def handled_in(
        self, *, township_code: str, department: str, start: datetime, end: datetime
    ) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM cases c WHERE c.township_code = $1"
                " AND $2 = ANY (c.lead_history) AND NOT c.duplicate"
                " AND ((c.started_at >= $3 AND c.started_at < $4) OR EXISTS ("
                "  SELECT 1 FROM timeline t WHERE t.case_id = c.case_id"
                "  AND t.kind = 'state_changed' AND t.attrs->>'department' = $2"
                "  AND t.at >= $3 AND t.at < $4)))",
                township_code,
                department,
                start,
                end,
            )
        )


async def assessments_between(
    pool: asyncpg.Pool, *, first: date, last: date
) -> list[TownshipAssessment]:
    """Every assessment of a month that touches the local dates first..last."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM township_assessments"
        " WHERE month <= $2 AND (month + interval '1 month') > $1"
        " ORDER BY month, township_code, department",
        first,
        last,
    )
    return [assessment_of(r) for r in rows]
