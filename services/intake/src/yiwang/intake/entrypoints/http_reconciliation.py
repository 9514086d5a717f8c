"""对账: intake's side of the county's reconciliation. An auditor or a hub operator (or
oversight, forwarding their token) lists the cases intake received in a period: ids and
states only, no content."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate, Role
from yiwang.common.problems import field_problem
from yiwang.intake.adapters.reconciliation import ReceivedCases
from yiwang.intake.entrypoints.bounds import Moment
from yiwang.intake.handlers.reconciliation import received_cases

MAX_CASES = 100_000


def reconciliation_router(*, authenticate: Authenticate, store: ReceivedCases) -> APIRouter:
    router = APIRouter(prefix="/v1/reconciliation", tags=["对账"])
    can_reconcile = allow(authenticate, Role.AUDITOR, Role.HUB_OPERATOR)

    @router.get(
        "/cases",
        summary="对账: the cases intake received in a period (ids and states)",
        openapi_extra=can_reconcile.openapi,
        dependencies=[can_reconcile.actor],
    )
    async def cases_received(
        received_from: Annotated[Moment, Query(description="first instant, included")],
        received_to: Annotated[Moment, Query(description="last instant, excluded")],
        limit: Annotated[int, Query(ge=1, le=MAX_CASES)] = MAX_CASES,
    ) -> dict[str, Any]:
        if received_to <= received_from:
            raise field_problem(422, "received_to", "must be after received_from")
        found, truncated = await received_cases(
            store=store, start=received_from, end=received_to, limit=limit
        )
        return {
            "service": "intake",
            "received_from": received_from,
            "received_to": received_to,
            "cases": [asdict(case) for case in found],
            "truncated": truncated,
        }

    return router
