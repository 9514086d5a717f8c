"""对账's peers: intake's and department-dispatch's reconciliation routes, over HTTP.

Services never read each other's tables: oversight asks each for the cases of a period,
forwarding the caller's own bearer token, so each service decides for itself whether the
caller may see its list.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

import httpx
from yiwang.oversight.domain.reconciliation import DispatchCase, IntakeCase

INTAKE = "intake"
DISPATCH = "department-dispatch"


class PeerFailed(RuntimeError):
    """A peer service did not answer with its list; names the service."""

    def __init__(self, service: str, reason: str, *, status: int = 502) -> None:
        self.field = service
        self.status = status
        super().__init__(f"{service}: {reason}")


class Peers(abc.ABC):
    @abc.abstractmethod
    async def intake_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, IntakeCase], bool]:
        """Intake's cases of [start, end), and whether the list was cut short."""

    @abc.abstractmethod
    async def dispatch_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, DispatchCase], bool]:
        """Department-dispatch's cases of [start, end), and whether the list was cut short."""


class HttpPeers(Peers):
    def __init__(self, *, intake_url: str, dispatch_url: str, timeout: float) -> None:
        self._urls = {
            INTAKE: intake_url.rstrip("/") + "/v1/reconciliation/cases",
            DISPATCH: dispatch_url.rstrip("/") + "/reconciliation/cases",
        }
        self._timeout = timeout

    async def _fetch(
        self, service: str, *, start: datetime, end: datetime, authorization: str
    ) -> dict[str, Any]:
        params = {"received_from": start.isoformat(), "received_to": end.isoformat()}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(
                    self._urls[service], params=params, headers={"Authorization": authorization}
                )
        except httpx.HTTPError as exc:
            raise PeerFailed(service, f"unreachable ({type(exc).__name__})", status=503) from exc
        if response.status_code in (401, 403):
            # The peer refused the caller's own token: the caller may not reconcile there.
            raise PeerFailed(service, f"refused the caller ({response.status_code})", status=403)
        if response.status_code != 200:
            raise PeerFailed(service, f"answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def intake_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, IntakeCase], bool]:
        body = await self._fetch(INTAKE, start=start, end=end, authorization=authorization)
        cases = {
            c["case_id"]: IntakeCase(c["case_id"], c["state"], bool(c.get("duplicate")))
            for c in body["cases"]
        }
        return cases, bool(body.get("truncated"))

    async def dispatch_cases(
        self, *, start: datetime, end: datetime, authorization: str
    ) -> tuple[dict[str, DispatchCase], bool]:
        body = await self._fetch(DISPATCH, start=start, end=end, authorization=authorization)
        cases = {
            c["case_id"]: DispatchCase(c["case_id"], c["state"], int(c["work_orders"]))
            for c in body["cases"]
        }
        return cases, bool(body.get("truncated"))
