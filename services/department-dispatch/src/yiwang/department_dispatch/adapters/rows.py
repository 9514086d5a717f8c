"""Rows of the dispatch tables as domain objects."""

from __future__ import annotations

from typing import Any

from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, CommandLevel, DepartmentRole
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain.model import DispatchCase, WorkOrder, WorkOrderStatus

WORK_ORDER_COLUMNS = (
    "work_order_id, case_id, department, role, command_level, round, status, deadline,"
    " issued_at, whistle_id, case_number, response_due, sla_policy, ruling_id, rehandling"
)


def case_from_row(row: Any) -> DispatchCase:
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


def work_order_from_row(row: Any) -> WorkOrder:
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


# Insert or update one case: $1-$11 as case_values gives them.
SAVE_CASE = (
    "INSERT INTO dispatch_case (case_id, state, attempt, command_level, lead_department,"
    " return_count, routed, clock_started_at, escalations, ruling_id, rehandling)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)"
    " ON CONFLICT (case_id) DO UPDATE SET state = $2, attempt = $3, command_level = $4,"
    " lead_department = $5, return_count = $6, routed = $7::jsonb,"
    " clock_started_at = $8, escalations = $9, ruling_id = $10, rehandling = $11,"
    " updated_at = now()"
)


def case_values(case: DispatchCase) -> tuple[Any, ...]:
    return (
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
