"""Routed cases and their routing history: written in the handler's transaction, and
read back for the HTTP read side."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.departments import Department
from yiwang.common.events import CaseReceived
from yiwang.common.postgres import Write, text_array
from yiwang.common.states import CaseState
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import RoutingDecision


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    decision: RoutingDecision
    grid_set: int | None
    trigger: str  # "received", "returned" or "mediation"
    decided_at: datetime


class RoutedCaseRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, case_id: str) -> RoutedCase | None: ...

    @abc.abstractmethod
    async def get_many(self, case_ids: Sequence[str]) -> dict[str, RoutedCase]:
        """The cases among these that routing knows, by id."""

    @abc.abstractmethod
    async def save_many(self, cases: Sequence[RoutedCase]) -> None: ...

    @abc.abstractmethod
    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        """Append to the cases' routing histories: (case_id, decision) pairs."""


_CASE_COLUMNS = "case_id, received, state, returns, excluded_departments, attempts, mediated"


class PostgresRoutedCaseRepository(RoutedCaseRepository):
    """Set-based: a batch of cases costs one statement per method, not one per case."""

    def __init__(
        self,
        conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection,
        *,
        write: Write | None = None,
    ) -> None:
        self._conn = conn
        self._write = write or conn.execute  # the unit of work's: it may defer writes

    async def get(self, case_id: str) -> RoutedCase | None:
        return (await self.get_many([case_id])).get(case_id)

    async def get_many(self, case_ids: Sequence[str]) -> dict[str, RoutedCase]:
        if not case_ids:
            return {}
        rows = await self._conn.fetch(
            f"SELECT {_CASE_COLUMNS} FROM routed_cases WHERE case_id = ANY($1::text[])"
            " ORDER BY case_id FOR UPDATE",  # one lock order, so batches cannot deadlock
            list(case_ids),
        )
        return {
            row["case_id"]: RoutedCase(
                received=CaseReceived.model_validate_json(row["received"]),
                state=CaseState(row["state"]),
                returns=row["returns"],
                excluded=tuple(Department(d) for d in row["excluded_departments"]),
                attempts=row["attempts"],
                mediated=row["mediated"],
            )
            for row in rows
        }

    async def save_many(self, cases: Sequence[RoutedCase]) -> None:
        if not cases:
            return
        # unnest() cannot take an array of arrays row by row: text[] columns travel as
        # array literals, cast per row.
        await self._write(
            f"INSERT INTO routed_cases ({_CASE_COLUMNS})"
            " SELECT c.case_id, c.received, c.state, c.returns,"
            " c.excluded::text[], c.attempts, c.mediated"
            " FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::int[], $5::text[], $6::int[],"
            " $7::bool[])"
            " AS c(case_id, received, state, returns, excluded, attempts, mediated)"
            " ON CONFLICT (case_id) DO UPDATE SET state = excluded.state,"
            " returns = excluded.returns, excluded_departments = excluded.excluded_departments,"
            " attempts = excluded.attempts, mediated = excluded.mediated, updated_at = now()",
            [c.case_id for c in cases],
            [c.received.model_dump_json() for c in cases],
            [c.state.value for c in cases],
            [c.returns for c in cases],
            [text_array(c.excluded) for c in cases],
            [c.attempts for c in cases],
            [c.mediated for c in cases],
        )

    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        if not decisions:
            return
        columns: list[list[Any]] = [[] for _ in range(17)]
        for case_id, recorded in decisions:
            d = recorded.decision
            row = (
                case_id,
                d.attempt,
                recorded.grid_set,
                d.micro_grid.code if d.micro_grid else None,
                d.township_code,
                json.dumps({k.value: v for k, v in d.department_units.items()}),
                d.lead_department.value,
                text_array(d.assisting_departments),
                d.tier.value,
                d.sla_class,
                d.to_mediation,
                d.triage,
                d.rule_id,
                d.reason,
                text_array(d.excluded_departments),
                recorded.trigger,
                recorded.decided_at,
            )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        await self._write(
            "INSERT INTO routing_decisions (case_id, attempt, grid_set, micro_grid_code,"
            " township_code, department_units, lead_department, assisting_departments, tier,"
            " sla_class, to_mediation, triage, rule_id, reason, excluded_departments, trigger,"
            " decided_at)"
            " SELECT d.case_id, d.attempt, d.grid_set, d.micro_grid_code, d.township_code,"
            " d.department_units, d.lead_department,"
            " d.assisting::text[], d.tier, d.sla_class,"
            " d.to_mediation, d.triage, d.rule_id, d.reason,"
            " d.excluded::text[], d.trigger, d.decided_at"
            " FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::jsonb[],"
            " $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[], $12::bool[],"
            " $13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[])"
            " AS d(case_id, attempt, grid_set, micro_grid_code, township_code, department_units,"
            " lead_department, assisting, tier, sla_class, to_mediation, triage, rule_id, reason,"
            " excluded, trigger, decided_at)",
            *columns,
        )


class RoutingHistory(abc.ABC):
    """The read side: a case's recorded decisions, oldest first, as the API shows them."""

    @abc.abstractmethod
    async def of_case(self, case_id: str) -> list[dict[str, Any]]: ...


class PostgresRoutingHistory(RoutingHistory):
    """Reads outside any unit of work: each decision was committed whole."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def of_case(self, case_id: str) -> list[dict[str, Any]]:
        return await routing_history(self._pool, case_id)


async def routing_history(pool: asyncpg.Pool, case_id: str) -> list[dict[str, Any]]:
    """A case's decisions, oldest first (empty if it was never routed)."""
    rows = await pool.fetch(
        "SELECT attempt, grid_set, micro_grid_code, township_code, department_units,"
        " lead_department, assisting_departments, tier, sla_class, to_mediation, triage,"
        " rule_id, reason, excluded_departments, trigger, decided_at FROM routing_decisions"
        " WHERE case_id = $1 ORDER BY attempt",
        case_id,
    )
    return [{**dict(r), "department_units": json.loads(r["department_units"])} for r in rows]
