"""HTTP routes for 晒账 (the public ledger) and 对账 (reconciliation across services).

Who reads the public ledger: every role that reads reports (the county hub, auditors,
administrators, township officials, department staff), each the whole county's, since
晒账 is about comparing in the open. It carries counts and rates only, and no petition or
dispute content (`domain/public_ledger.py`), so the county publishes it as it is (its
portal fetches the JSON or CSV with a service account). Oversight's API itself is not
open to the internet: it issues no anonymous reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response
from yiwang.common.access import allow
from yiwang.common.auth import Authenticate
from yiwang.common.clock import Clock
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.domain.access import READING_ROLES
from yiwang.oversight.domain.kpi import GroupBy
from yiwang.oversight.entrypoints.http_reports import Format, FromDate, ToDate, as_csv
from yiwang.oversight.handlers import ledgers


def ledger_router(
    *, reader: Callable[[], OversightReader], clock: Clock, authenticate: Authenticate
) -> APIRouter:
    router = APIRouter(tags=["ledgers"])
    can_read = allow(authenticate, *READING_ROLES)

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

    return router
