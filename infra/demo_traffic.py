"""Demo traffic for `make run`: a synthetic county reporting problems through every channel.

Grid workers, the hotline, the portal, petitions and Open311 clients come in over HTTP;
county platforms over Kafka. The mix of categories and channels, a daily rhythm in demo
time (quiet at night, busy mid-morning) and some repeats of one problem reported again
nearby make it look like a county's day.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from demo_people import People
from yiwang.common.case import Location, Priority, SourceRef
from yiwang.common.clock import Clock
from yiwang.common.events import ReporterDetails, SubmitCase
from yiwang.common.producer import EventProducer
from yiwang.common.topics import INTAKE_SUBMISSIONS
from yiwang.intake.adapters.signing import signed_submission

SHANGHAI = timezone(timedelta(hours=8))
COUNTY_BOUNDS = (113.52, 37.83, 113.62, 37.91)  # grid-routing's `district` preset
CATEGORY_MIX = {
    "sanitation": 18, "illegal-parking": 12, "street-vending": 8, "noise": 8,
    "neighbour-dispute": 7, "property-dispute": 6, "food-safety": 5, "heating-failure": 5,
    "road-damage": 5, "illegal-construction": 4, "wage-arrears": 4, "price-fraud": 3,
    "elderly-care": 3, "subsistence-allowance": 2, "fire-hazard": 3, "gas-leak": 1,
    "water-outage": 3, "family-dispute": 2,
}  # fmt: skip
CHANNEL_MIX = {
    "grid_worker": 35,
    "hotline": 30,
    "platform": 15,
    "portal": 10,
    "open311": 5,
    "petition": 5,
}
TITLES = {"sanitation": "垃圾未及时清运", "illegal-parking": "车辆占用消防通道", "noise": "夜间施工噪声扰民",
          "fire-hazard": "楼道堆放杂物", "gas-leak": "闻到燃气味", "food-safety": "餐馆后厨卫生差"}  # fmt: skip
URGENT = {"gas-leak", "fire-hazard", "water-outage", "heating-failure"}
SURNAMES = "王李张刘陈杨赵黄周吴"


def daily_rhythm(now: datetime) -> float:
    """Relative load by the hour in Shanghai: 0.15 at night, 1.0 around 13:00."""
    hour = now.astimezone(SHANGHAI).hour + now.minute / 60
    return 0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.15


class CountyReporters:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.previous: tuple[str, float, float] | None = None

    def problem(self) -> tuple[str, float, float]:
        if self.previous is not None and self.rng.random() < 0.08:  # reported again nearby
            category, lon, lat = self.previous
            return (
                category,
                lon + self.rng.uniform(-8e-4, 8e-4),
                lat + self.rng.uniform(-8e-4, 8e-4),
            )
        category = self.rng.choices(list(CATEGORY_MIX), weights=list(CATEGORY_MIX.values()))[0]
        lon = self.rng.uniform(COUNTY_BOUNDS[0], COUNTY_BOUNDS[2])
        lat = self.rng.uniform(COUNTY_BOUNDS[1], COUNTY_BOUNDS[3])
        self.previous = (category, lon, lat)
        return self.previous

    def person(self) -> dict[str, Any]:
        return {
            "name": self.rng.choice(SURNAMES) + "先生",
            "phone": f"139{self.rng.randrange(10**8):08d}",
        }


def native_body(
    channel: str, category: str, lon: float, lat: float, who: CountyReporters
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": channel,
        "category": "petition-general" if channel == "petition" else category,
        "title": TITLES.get(category, f"群众反映：{category}"),
        "description": "演示数据：合成县的诉求。",
        "priority": "urgent" if category in URGENT else "normal",
        "location": {"lon": round(lon, 6), "lat": round(lat, 6)},
        "reporter": who.person(),
    }
    if channel == "grid_worker":
        body["grid_worker"] = {"worker_id": f"gw-{who.rng.randrange(1, 400):03d}"}
    elif channel == "hotline":
        body["hotline"] = {
            "call_id": uuid.uuid4().hex[:12],
            "operator_id": f"op-{who.rng.randrange(1, 40)}",
        }
    elif channel == "petition":
        body["petition"] = {"form": who.rng.choice(["letter", "visit", "online"])}
    return body


async def submit_one(
    http: httpx.AsyncClient,
    kafka: EventProducer,
    who: CountyReporters,
    *,
    prefix: str,
    api_key: str,
    platform_credential: str,
) -> str:
    category, lon, lat = who.problem()
    channel = who.rng.choices(list(CHANNEL_MIX), weights=list(CHANNEL_MIX.values()))[0]
    if channel == "platform":
        command = SubmitCase(
            source=SourceRef(system="yq-city-platform", external_id=uuid.uuid4().hex[:16]),
            category=category,
            title=TITLES.get(category, f"平台转办：{category}"),
            description="演示数据：县级平台转入。",
            priority=Priority.URGENT if category in URGENT else Priority.NORMAL,
            location=Location(lon=round(lon, 6), lat=round(lat, 6)),
            reporter=ReporterDetails(**who.person()),
        )
        # Signed by the platform, as intake requires (docs/security.md).
        await kafka.send_records(
            [
                signed_submission(
                    command, credential=platform_credential, topic=prefix + INTAKE_SUBMISSIONS
                )
            ]
        )
    elif channel == "open311":
        form = {"api_key": api_key, "service_code": category, "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
                "description": "演示数据：Open311 客户端"}  # fmt: skip
        if category in URGENT - {"water-outage", "heating-failure"}:
            form["attribute[hazard_level]"] = who.rng.choice(["low", "medium", "high"])
        (await http.post("/open311/v2/requests.json", data=form)).raise_for_status()
    else:
        (
            await http.post("/v1/cases", json=native_body(channel, category, lon, lat, who))
        ).raise_for_status()
    return channel


async def run_demo(
    *,
    bootstrap_servers: str,
    intake_url: str,
    api_key: str,
    platform_credential: str,
    rate: float,
    clock: Clock,
    prefix: str = "",
    seed: int = 7,
    quiet: bool = False,
) -> None:
    """Submit until cancelled, `rate` per second at the busiest hour of demo time."""
    who = CountyReporters(random.Random(seed))
    producer = EventProducer(bootstrap_servers=bootstrap_servers, client_id="yiwang-demo")
    await producer.start()
    sent: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(
            base_url=intake_url, headers={"X-API-Key": api_key}, timeout=10
        ) as http:
            while True:
                try:
                    channel = await submit_one(
                        http, producer, who, prefix=prefix, api_key=api_key,
                        platform_credential=platform_credential,
                    )  # fmt: skip
                    sent[channel] = sent.get(channel, 0) + 1
                    if sum(sent.values()) % 50 == 0 and not quiet:
                        mix = ", ".join(f"{c} {n}" for c, n in sorted(sent.items()))
                        print(f"demo traffic: {sum(sent.values())} submissions ({mix})", flush=True)
                except httpx.HTTPError as exc:
                    print(f"demo traffic: a submission failed: {exc}", flush=True)
                await asyncio.sleep(who.rng.expovariate(rate * daily_rhythm(clock.now())))
    finally:
        await producer.stop()


async def blow_whistles(
    *, oversight_url: str, dispatch_url: str, every_seconds: float, seed: int = 11
) -> None:
    """Now and then a township summons departments to a case (乡街吹哨、部门报到).

    The township's official signs in (township_<code> in the demo realm); the department
    simulator reports for most summons in time; some miss.
    """
    rng = random.Random(seed)
    people = People()
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                found = (
                    await http.get(
                        f"{oversight_url}/cases",
                        params={"state": "acknowledged", "limit": 20},
                        headers=await people.headers(http, "hub_operator"),
                    )
                ).json()
                cases = [
                    c
                    for c in found.get("cases", [])
                    if c.get("township_code") and c.get("lead_department")
                ]
                if not cases:
                    continue
                case = rng.choice(cases)
                township = case["township_code"]
                others = [
                    d
                    for d in ("housing", "public-security", "emergency-management")
                    if d != case["lead_department"]
                ]
                body = {
                    "case_id": case["case_id"],
                    "township_code": township,
                    "departments": [case["lead_department"], rng.choice(others)],
                    "report_within_minutes": 30,
                    "reason": "群众反映强烈，乡镇街道吹哨，部门报到",
                }
                headers = await people.headers(http, f"township_{township}")
                (
                    await http.post(f"{dispatch_url}/whistles", json=body, headers=headers)
                ).raise_for_status()
            except (httpx.HTTPError, ValueError, RuntimeError) as exc:
                print(f"demo traffic: a whistle failed: {exc}", flush=True)


# Residents' evaluations of resolved cases: mostly satisfied, some not (不满意重办), and a
# fifth never answer, so those cases close by themselves after the waiting time.
SCORES = {5: 50, 4: 22, 3: 10, 2: 6, 1: 6}
NO_ANSWER = 0.2


async def evaluate_resolved(
    *, oversight_url: str, intake_url: str, api_key: str, every_seconds: float, seed: int = 13
) -> None:
    """Residents evaluate resolved cases: the platform they reported through reads the
    case's one-time evaluation token from intake and hands it on; the resident sends it
    with the score, and no other credential. (The hub operator finds the resolved cases.)"""
    rng = random.Random(seed)
    asked: set[str] = set()
    people = People()
    async with httpx.AsyncClient(base_url=oversight_url, timeout=10) as http:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                found = (
                    await http.get(
                        "/cases",
                        params={"state": "resolved", "limit": 50},
                        headers=await people.headers(http, "hub_operator"),
                    )
                ).json()
                for case in found.get("cases", []):
                    key = f"{case['case_id']}:{case.get('resolved_at')}"
                    if key in asked:
                        continue
                    seen = await http.get(
                        f"{intake_url}/v1/cases/{case['case_id']}", headers={"X-API-Key": api_key}
                    )
                    token = (
                        (seen.json() if seen.status_code == 200 else {}).get("evaluation") or {}
                    ).get("token")
                    if not token:
                        continue  # not the demo platform's case, or the token is on its way
                    asked.add(key)
                    if rng.random() < NO_ANSWER:
                        continue
                    score = rng.choices(list(SCORES), weights=list(SCORES.values()))[0]
                    await http.post(
                        f"/cases/{case['case_id']}/evaluations",
                        json={"score": score, "token": token},
                    )
            except (httpx.HTTPError, ValueError) as exc:
                print(f"demo traffic: an evaluation failed: {exc}", flush=True)


async def rule_at_the_hub(
    *, oversight_url: str, dispatch_url: str, every_seconds: float, seed: int = 17
) -> None:
    """The county hub rules (终审) on the cases sent to it for triage or arbitration: the
    department that returned first handles it, or urban management for a case no
    department has seen. Dispatch refuses cases that are not the hub's; those are passed."""
    rng = random.Random(seed)
    people = People()
    ruled: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                hub = await people.headers(http, "hub_operator")
                found = (
                    await http.get(
                        f"{oversight_url}/cases",
                        params={"department": "comprehensive-governance", "limit": 50},
                        headers=hub,
                    )
                ).json()
                for case in found.get("cases", []):
                    if case["case_id"] in ruled or case.get("state") not in (
                        "dispatched",
                        "acknowledged",
                    ):
                        continue
                    ruled.add(case["case_id"])
                    returned = [d for d in case.get("returned_by") or [] if d]
                    department = returned[0] if returned else "urban-management"
                    reason = rng.choice(["职责清单明确", "属地管理原则", "首接负责"])
                    await http.post(
                        f"{dispatch_url}/cases/{case['case_id']}/ruling",
                        json={"department": department, "reason": f"综治中心终审：{reason}"},
                        headers=hub,
                    )
            except (httpx.HTTPError, ValueError, RuntimeError) as exc:
                print(f"demo traffic: a ruling failed: {exc}", flush=True)


# 一考双评 and the weekly report (oversight's side of the practice).


def assessment_score(line: dict[str, Any], rng: random.Random) -> int:
    """How a township rates a department: well when little of its work there is overdue."""
    handled = line["open"] + line["resolved"] + line["closed"]
    overdue_share = line["overdue"] / handled if handled else 0.0
    return max(0, min(100, round(92 - 60 * overdue_share + rng.gauss(0, 6))))


async def assess_departments(
    *, oversight_url: str, clock: Clock, every_seconds: float, seed: int = 19
) -> None:
    """Each month of demo time, every township's official assesses the departments that
    handled cases in the township (一考双评), once a department has handled a few there.
    The official signs in (township_<code>); oversight refuses a second assessment (409)."""
    rng = random.Random(seed)
    people = People()
    done: set[tuple[str, str, str]] = set()
    async with httpx.AsyncClient(base_url=oversight_url, timeout=10) as http:
        while True:
            await asyncio.sleep(every_seconds)
            month = clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
            try:
                ledger = (
                    await http.get("/ledgers", headers=await people.headers(http, "auditor"))
                ).json()
                for line in ledger.get("lines", []):
                    township, department = line.get("township"), line["department"]
                    key = (month, township or "", department)
                    handled = line["open"] + line["resolved"] + line["closed"]
                    if not township or department == "unassigned" or key in done or handled < 3:
                        continue
                    done.add(key)
                    body = {
                        "township_code": township,
                        "department": department,
                        "month": month,
                        "score": assessment_score(line, rng),
                        "comment": rng.choice(
                            ["响应及时，处置到位", "配合较好", "个别事项催办后才处理"]
                        ),
                    }
                    headers = await people.headers(http, f"township_{township}")
                    await http.post("/assessments", json=body, headers=headers)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                print(f"demo traffic: an assessment failed: {exc}", flush=True)


def _keep(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def fetch_weekly_reports(
    *, oversight_url: str, clock: Clock, every_seconds: float, out_dir: Path
) -> None:
    """The auditor fetches this week's dispatch report (周调度) now and then, as JSON and
    CSV, into `out_dir` (weekly-<year>-W<week>.json / .csv, the latest of each week)."""
    people = People()
    async with httpx.AsyncClient(base_url=oversight_url, timeout=30) as http:
        while True:
            await asyncio.sleep(every_seconds)
            week_of = clock.now().astimezone(SHANGHAI).date().isoformat()
            try:
                headers = await people.headers(http, "auditor")
                document = await http.get(
                    "/reports/weekly", params={"week_of": week_of}, headers=headers
                )
                document.raise_for_status()
                label = document.json()["period"]
                await asyncio.to_thread(_keep, out_dir / f"weekly-{label}.json", document.text)
                table = await http.get(
                    "/reports/weekly", params={"week_of": week_of, "format": "csv"}, headers=headers
                )
                table.raise_for_status()
                await asyncio.to_thread(_keep, out_dir / f"weekly-{label}.csv", table.text)
            except (httpx.HTTPError, ValueError, KeyError, OSError) as exc:
                print(f"demo traffic: the weekly report failed: {exc}", flush=True)
