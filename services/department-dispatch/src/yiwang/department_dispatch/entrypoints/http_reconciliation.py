"""对账: department-dispatch's side of the county's reconciliation. An auditor or a hub
operator (or oversight, forwarding their token) lists the cases dispatch holds for a
period, with their work-order counts: ids and states only, no content."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate, Role
from yiwang.common.bounds import AwareMoment
from yiwang.common.problems import field_problem
from yiwang.department_dispatch.adapters.reconciliation import DispatchedCases
from yiwang.department_dispatch.handlers.reconciliation import dispatched_cases

MAX_CASES = 100_000


def reconciliation_router(*, authenticate: Authenticate, store: DispatchedCases) -> APIRouter:
    router = APIRouter(prefix="/reconciliation", tags=["对账"])
    can_reconcile = allow(authenticate, Role.AUDITOR, Role.HUB_OPERATOR)

    @router.get(
        "/cases",
        summary="对账: the cases dispatch holds for a period (ids, states, work orders)",
        openapi_extra=can_reconcile.openapi,
        dependencies=[can_reconcile.actor],
    )
    async def cases_dispatched(
        received_from: Annotated[AwareMoment, Query(description="first instant, included")],
        received_to: Annotated[AwareMoment, Query(description="last instant, excluded")],
        limit: Annotated[int, Query(ge=1, le=MAX_CASES)] = MAX_CASES,
    ) -> dict[str, Any]:
        if received_to <= received_from:
            raise field_problem(422, "received_to", "must be after received_from")
        found, truncated = await dispatched_cases(
            store=store, start=received_from, end=received_to, limit=limit
        )
        return {
            "service": "department-dispatch",
            "received_from": received_from,
            "received_to": received_to,
            "cases": [asdict(case) for case in found],
            "truncated": truncated,
        }

    return router
