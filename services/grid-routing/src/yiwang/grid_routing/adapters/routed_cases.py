"""Routed cases and their routing history, in the handler's transaction."""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from yiwang.common.departments import Department
from yiwang.common.events import CaseReceived
from yiwang.common.states import CaseState
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import RoutingDecision


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    decision: RoutingDecision
    grid_set: int | None
    trigger: str  # "received" or "returned"
    decided_at: datetime


class RoutedCaseRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, case_id: str) -> RoutedCase | None: ...

    @abc.abstractmethod
    async def save(self, case: RoutedCase) -> None: ...

    @abc.abstractmethod
    async def add_decision(self, case_id: str, recorded: RecordedDecision) -> None: ...


class PostgresRoutedCaseRepository(RoutedCaseRepository):
    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        self._conn = conn

    async def get(self, case_id: str) -> RoutedCase | None:
        row = await self._conn.fetchrow(
            "SELECT received, state, returns, excluded_departments, attempts FROM routed_cases"
            " WHERE case_id = $1 FOR UPDATE",
            case_id,
        )
        if row is None:
            return None
        return RoutedCase(
            received=CaseReceived.model_validate_json(row["received"]),
            state=CaseState(row["state"]),
            returns=row["returns"],
            excluded=tuple(Department(d) for d in row["excluded_departments"]),
            attempts=row["attempts"],
        )

    async def save(self, case: RoutedCase) -> None:
        await self._conn.execute(
            "INSERT INTO routed_cases (case_id, received, state, returns, excluded_departments,"
            " attempts) VALUES ($1, $2::jsonb, $3, $4, $5, $6) ON CONFLICT (case_id) DO UPDATE"
            " SET state = $3, returns = $4, excluded_departments = $5, attempts = $6,"
            " updated_at = now()",
            case.case_id,
            case.received.model_dump_json(),
            case.state.value,
            case.returns,
            [d.value for d in case.excluded],
            case.attempts,
        )

    async def add_decision(self, case_id: str, recorded: RecordedDecision) -> None:
        d = recorded.decision
        await self._conn.execute(
            "INSERT INTO routing_decisions (case_id, attempt, grid_set, micro_grid_code,"
            " township_code, department_units, lead_department, assisting_departments, tier,"
            " sla_class, to_mediation, triage, rule_id, reason, excluded_departments, trigger,"
            " decided_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8,$9,$10,$11,$12,$13,$14,$15,"
            "$16,$17)",
            case_id,
            d.attempt,
            recorded.grid_set,
            d.micro_grid.code if d.micro_grid else None,
            d.township_code,
            json.dumps({k.value: v for k, v in d.department_units.items()}),
            d.lead_department.value,
            [a.value for a in d.assisting_departments],
            d.tier.value,
            d.sla_class,
            d.to_mediation,
            d.triage,
            d.rule_id,
            d.reason,
            [e.value for e in d.excluded_departments],
            recorded.trigger,
            recorded.decided_at,
        )


async def routing_history(pool: asyncpg.Pool, case_id: str) -> list[dict[str, Any]]:
    """A case's decisions, oldest first, for the HTTP read side."""
    rows = await pool.fetch(
        "SELECT attempt, grid_set, micro_grid_code, township_code, department_units,"
        " lead_department, assisting_departments, tier, sla_class, to_mediation, triage,"
        " rule_id, reason, excluded_departments, trigger, decided_at FROM routing_decisions"
        " WHERE case_id = $1 ORDER BY attempt",
        case_id,
    )
    return [{**dict(r), "department_units": json.loads(r["department_units"])} for r in rows]
