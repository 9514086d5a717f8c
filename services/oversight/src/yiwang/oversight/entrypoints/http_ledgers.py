"""HTTP routes for 晒账 (the public ledger) and 对账 (reconciliation across services).

Who reads the public ledger: every role that reads reports (the county hub, auditors,
administrators, township officials, department staff), each the whole county's, since
晒账 is about comparing in the open. It carries counts and rates only, and no petition or
dispute content (`domain/public_ledger.py`), so the county publishes it as it is (its
portal fetches the JSON or CSV with a service account). Oversight's API itself is not
open to the internet: it issues no anonymous reads.

Reconciliation is for auditors and hub operators: oversight forwards the caller's bearer
token to intake and department-dispatch, whose reconciliation routes admit the same two
roles, so nobody sees a service's list through oversight who could not ask it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate, Role
from yiwang.common.clock import Clock
from yiwang.oversight.adapters.peers import Peers
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.access import READING_ROLES
from yiwang.oversight.domain.kpi import GroupBy
from yiwang.oversight.entrypoints.http_reports import Format, FromDate, ToDate, as_csv
from yiwang.oversight.handlers import ledgers
from yiwang.oversight.handlers.reconciliation import ReconciliationReport, reconcile_period


def reconciliation_document(report: ReconciliationReport) -> dict[str, Any]:
    result = report.reconciliation
    return {
        "from": report.period.first,
        "to": report.period.last,
        "as_of": report.as_of,
        "complete": report.complete,
        "agreed": result.agreed,
        "counts": asdict(result.counts),
        "cases": [asdict(case) for case in result.cases],
    }


def reconciliation_rows(report: ReconciliationReport) -> list[dict[str, Any]]:
    """One CSV row per case in disagreement, its disagreements joined by ';'."""
    return [
        {**asdict(case), "disagreements": ";".join(case.disagreements)}
        for case in report.reconciliation.cases
    ]


def ledger_router(
    *,
    reader: Callable[[], OversightReader],
    clock: Clock,
    authenticate: Authenticate,
    peers: Peers | None = None,
) -> APIRouter:
    router = APIRouter(tags=["ledgers"])
    can_read = allow(authenticate, *READING_ROLES)
    can_reconcile = allow(authenticate, Role.AUDITOR, Role.HUB_OPERATOR)

    @router.get(
        "/ledgers/public",
        summary="晒账: the public ledger per township or department, fit for publishing "
        "(counts and rates; no personal data, petitions or disputes)",
        response_model=None,
        openapi_extra=can_read.openapi,
        dependencies=[can_read.actor],
    )
    async def public_ledger(
        first: FromDate,
        last: ToDate,
        group_by: GroupBy = GroupBy.TOWNSHIP,
        format: Format = Format.JSON,
    ) -> dict[str, Any] | Response:
        ledger = await ledgers.publish_ledger(
            reader=reader(), first=first, last=last, group_by=group_by, as_of=clock.now()
        )
        rows = [asdict(row) for row in [*ledger.rows, ledger.overall]]
        if format is Format.CSV:
            return as_csv(rows, f"public-ledger-{group_by}-{first}-{last}.csv")
        return {
            "from": first,
            "to": last,
            "group_by": group_by,
            "as_of": ledger.as_of,
            "rows": rows[:-1],
            "overall": rows[-1],
        }

    if peers is None:
        return router
    asked = peers

    @router.get(
        "/reconciliation",
        summary="对账: the cases intake received, dispatch holds and oversight shows for a "
        "period, and every case on which they disagree",
        response_model=None,
        openapi_extra=can_reconcile.openapi,
        dependencies=[can_reconcile.actor],
    )
    async def reconciliation(
        request: Request, first: FromDate, last: ToDate, format: Format = Format.JSON
    ) -> dict[str, Any] | Response:
        report = await reconcile_period(
            reader=reader(),
            peers=asked,
            first=first,
            last=last,
            authorization=request.headers["authorization"],
            now=clock.now(),
        )
        if format is Format.CSV:
            return as_csv(reconciliation_rows(report), f"reconciliation-{first}-{last}.csv")
        return reconciliation_document(report)

    return router
