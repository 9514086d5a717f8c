"""A mediator simulator: drives mediation cases over the HTTP API as committees would.

    python -m yiwang.mediation.simulator [--url http://127.0.0.1:8004] [--speed 60] [--seed 7]
        [--username mediator_140302]

It signs in at the identity provider (YIWANG_OIDC_ISSUER; the local Keycloak's demo realm)
as a mediator whose committee is the county (`mediator_<MEDIATION_COUNTY_CODE>`, password
`<username>-pass`), so it may act on every mediation of the county, and the history of
each records that mediator as the actor of its steps.

Pending disputes are accepted (a mediator is assigned by level, specialty and load), a
session is scheduled, then the rung records an outcome with the odds below: most
disputes settle at the grid or community rung, a few fail all the way up and are
referred to court or arbitration, about 99% are settled overall (the reported 7,666 of
7,735). A few disputes are declined (不予受理) or withdrawn: mediation hands them back to
routing, which sends them to their lead department. Agreements that fall due for
follow-up are mostly honoured. Committees take their time: delays are in simulated time,
divided by --speed (the demo clock's speed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import time
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any

import httpx
from yiwang.common.logs import configure_logging, get_logger

log = get_logger("mediator-simulator")

# Per rung: (agreement, withdrawn, referred); the rest fails and moves up a rung.
ODDS = {
    "grid": (0.62, 0.03, 0.002),
    "community": (0.70, 0.02, 0.003),
    "township": (0.75, 0.01, 0.005),
    "district": (0.80, 0.01, 0.03),
}
DECLINED = 0.01  # a pending dispute the committee does not take (不予受理)
HONOURED = 0.97
REOPEN_WHEN_NOT_HONOURED = 0.5


class SignIn(httpx.Auth):
    """A person's access token from the identity provider (OAuth password grant), fetched
    when needed, renewed before it expires, and once more if the service answers 401."""

    def __init__(
        self, *, issuer: str, username: str, password: str, client_id: str, client_secret: str
    ) -> None:
        self.url = issuer.rstrip("/") + "/protocol/openid-connect/token"
        self.form = {
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
        }
        self.token, self.expires = "", 0.0

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.current()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.current(renew=True)}"
            yield request

    async def current(self, *, renew: bool = False) -> str:
        if renew or time.monotonic() > self.expires - 30:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(self.url, data=self.form)
            response.raise_for_status()
            body = response.json()
            self.token = str(body["access_token"])
            self.expires = time.monotonic() + float(body.get("expires_in", 60))
        return self.token


def service_now(case: dict[str, Any]) -> datetime:
    """The service's clock (which may run fast) as of the case's latest step."""
    stamps = [h["at"] for h in case["history"]] or [case["opened_at"]]
    return datetime.fromisoformat(max(stamps))


def choose_outcome(level: str, rng: random.Random) -> str:
    agree, withdraw, refer = ODDS[level]
    draw = rng.random()
    if draw < agree:
        return "agreement"
    if draw < agree + withdraw:
        return "withdrawn"
    if draw < agree + withdraw + refer:
        return "referred"
    return "failed"


class MediatorSimulator:
    def __init__(self, client: httpx.AsyncClient, rng: random.Random, speed: float) -> None:
        self.client = client
        self.rng = rng
        self.speed = speed
        self.next_action: dict[str, float] = {}  # mediation id -> monotonic time

    def wait(self, mid: str, *, minutes: float) -> None:
        """The committee acts on this mediation again after `minutes` of simulated time."""
        self.next_action[mid] = time.monotonic() + minutes * 60 / self.speed

    def ready(self, mid: str, *, first_wait_minutes: float) -> bool:
        if mid not in self.next_action:
            self.wait(mid, minutes=first_wait_minutes)
        return time.monotonic() >= self.next_action[mid]

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        response = await self.client.post(path, json=body)
        if response.status_code >= 400:
            # Another actor (a timer, a person) moved the case first: skip it this round.
            log.info("refused", path=path, status=response.status_code, detail=response.text)
            return None
        result: dict[str, Any] = response.json()
        return result

    async def step(self, summary: dict[str, Any]) -> None:
        mid = summary["mediation_id"]
        status = summary["status"]
        if status == "agreed" and not summary["follow_up_due"]:
            return  # nothing to do until the performance deadline
        if not self.ready(mid, first_wait_minutes=self.rng.uniform(30, 240)):
            return
        if status == "pending" and self.rng.random() < DECLINED:
            await self.post(f"/mediations/{mid}/decline", {"reason": "不属于人民调解受理范围"})
            return
        if status == "pending":
            await self.post(f"/mediations/{mid}/accept", {})
            self.wait(mid, minutes=self.rng.uniform(10, 60))
            return
        case = (await self.client.get(f"/mediations/{mid}")).raise_for_status().json()
        now = service_now(case)
        if status == "accepted" and not case["sessions"]:
            days = self.rng.uniform(0.5, 3)
            when = now + timedelta(days=days)
            self.wait(mid, minutes=days * 24 * 60)
            await self.post(
                f"/mediations/{mid}/sessions",
                {"scheduled_at": when.isoformat(), "place": f"{case['committee']} 调解室"},
            )
        elif status == "accepted":
            await self.record_outcome(mid, case["level"], case["dispute_type"], now)
            self.wait(mid, minutes=self.rng.uniform(30, 240))  # the next rung, if it failed
        elif status == "agreed" and case["follow_up_due"]:
            honoured = self.rng.random() < HONOURED
            then = "reopen" if self.rng.random() < REOPEN_WHEN_NOT_HONOURED else "refer"
            await self.post(f"/mediations/{mid}/follow-up", {"honoured": honoured, "then": then})

    async def record_outcome(self, mid: str, level: str, dispute: str, now: datetime) -> None:
        kind = choose_outcome(level, self.rng)
        body: dict[str, Any] = {"kind": kind}
        if kind == "agreement":
            amount = self.rng.choice([0, 500, 1200, 3500, 8000, 20000])
            body |= {
                "terms": f"双方就{dispute}纠纷达成协议，按期履行",
                "amounts": [{"description": "赔偿款", "amount": f"{amount}.00"}] if amount else [],
                "performance_deadline": (now + timedelta(days=self.rng.randint(7, 30))).isoformat(),
            }
        elif kind == "failed":
            body["reason"] = "双方分歧较大，未能达成一致"
        elif kind == "withdrawn":
            body["reason"] = "申请人撤回调解申请"
        else:
            body["reason"] = "涉及法律关系复杂，引导诉讼或仲裁"
        await self.post(f"/mediations/{mid}/outcome", body)

    async def tick(self) -> int:
        moved = 0
        for status in ("pending", "accepted", "agreed"):
            found = await self.client.get("/mediations", params={"status": status, "limit": 200})
            for summary in found.raise_for_status().json():
                await self.step(summary)
                moved += 1
        return moved


async def run(args: argparse.Namespace) -> None:
    auth = SignIn(
        issuer=args.issuer,
        username=args.username,
        password=args.password or f"{args.username}-pass",
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    async with httpx.AsyncClient(base_url=args.url, timeout=10, auth=auth) as client:
        simulator = MediatorSimulator(client, random.Random(args.seed), args.speed)
        while True:
            try:
                await simulator.tick()
            except httpx.HTTPError as exc:
                log.warning("mediation service or identity provider unreachable", error=str(exc))
            await asyncio.sleep(args.interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8004")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated minutes per minute")
    parser.add_argument("--seed", type=int, default=None)
    county = os.environ.get("MEDIATION_COUNTY_CODE", "140302")
    parser.add_argument(
        "--issuer",
        default=os.environ.get("YIWANG_OIDC_ISSUER", ""),
        help="the identity provider (default: YIWANG_OIDC_ISSUER)",
    )
    parser.add_argument(
        "--username",
        default=os.environ.get("MEDIATION_SIMULATOR_USER", f"mediator_{county}"),
        help="a mediator whose committee covers the disputes to drive",
    )
    parser.add_argument("--password", default=os.environ.get("MEDIATION_SIMULATOR_PASSWORD"))
    parser.add_argument("--client-id", default="yiwang-api")
    parser.add_argument("--client-secret", default="yiwang-api-secret")
    args = parser.parse_args()
    if not args.issuer:
        parser.error("no identity provider: set YIWANG_OIDC_ISSUER or pass --issuer")
    configure_logging(service="mediator-simulator", level="INFO", fmt="console")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
