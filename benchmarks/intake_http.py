"""HTTP intake: sustained submissions per second, and latency at a steady 200/s.

    uv run --frozen python benchmarks/intake_http.py [--duration 15] [--connections 64] [--rate 200]

Throughput is measured with wrk (Debian's package; installed if missing), a C load
generator, because a Python client would need as much CPU as the server it measures.

Intake runs as its own process (one uvicorn worker) with its own database and topic
prefix; the load comes from this process over loopback. Submissions are portal reports at
random spots across the county in six categories, so a few are linked as duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from harness import (
    ServiceProcess,
    cpu_reference,
    create_database,
    delete_topics,
    drop_database,
    log_path,
    stack_settings,
    unique_prefix,
)

RNG = random.Random(11)  # the steady-rate client's spots
CATEGORIES = (
    "sanitation",
    "illegal-parking",
    "street-vending",
    "noise",
    "road-damage",
    "streetlight",
)


def body() -> dict[str, object]:
    """A report somewhere in the county, as real traffic is spread (some are duplicates)."""
    return {
        "channel": "portal",
        "category": RNG.choice(CATEGORIES),
        "title": "群众反映",
        "description": "小区门口垃圾两天未清运",
        "location": {"lon": RNG.uniform(113.21, 113.89), "lat": RNG.uniform(37.61, 38.19)},
        "reporter": {"name": "张三", "phone": "13812345678"},
    }


WRK_SCRIPT = """
math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
local categories = {"sanitation", "illegal-parking", "street-vending", "noise", "road-damage", "streetlight"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "%s"
request = function()
  local body = string.format('{"channel":"portal","category":"%%s","title":"群众反映","description":"小区门口垃圾两天未清运",' ..
    '"location":{"lon":%%.6f,"lat":%%.6f},"reporter":{"name":"张三","phone":"13812345678"}}',
    categories[math.random(#categories)], 113.21 + math.random() * 0.68, 37.61 + math.random() * 0.58)
  return wrk.format(nil, "/v1/cases", nil, body)
end
"""


def wrk_throughput(url: str, key: str, *, seconds: float, connections: int) -> tuple[float, str]:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % key)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, f"{errors.group(1)} non-2xx" if errors else "all 2xx"


async def steady(client: httpx.AsyncClient, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        (await client.post("/v1/cases", json=body())).raise_for_status()
        latencies.append(time.perf_counter() - started)

    tasks, start = [], time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    reference = cpu_reference()  # before anything of ours runs
    settings = stack_settings()
    database = await create_database(settings["DATABASE_URL"])
    env = {
        **settings,
        "DATABASE_URL": database,
        "YIWANG_TOPIC_PREFIX": unique_prefix(),
        "YIWANG_LOG_LEVEL": "WARNING",
        "YIWANG_ENV": "development",  # the development personal-data key
    }
    service = ServiceProcess("yiwang.intake.app", env=env, log_path=log_path("intake"))
    await asyncio.to_thread(service.start)
    try:
        key = subprocess.run(
            [sys.executable, "-m", "yiwang.intake.cli", "issue-key", "--platform", "bench"],
            env=service.env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        async with httpx.AsyncClient(
            base_url=service.url, headers={"X-API-Key": key}, timeout=30
        ) as client:
            latencies = sorted(await steady(client, args.rate, args.seconds))
        # Then saturate it (measured second, so its backlog does not disturb the latencies).
        throughput, outcome = await asyncio.to_thread(
            wrk_throughput, service.url, key, seconds=args.duration, connections=args.connections
        )
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        print(f"CPU reference: {reference:.0f} ms (one core, fixed workload; lower is faster)")
        print(
            f"intake HTTP: {throughput:,.0f} submissions/s sustained for {args.duration:.0f}s"
            f" with {args.connections} connections ({outcome})"
        )
        print(
            f"intake HTTP at {args.rate:.0f}/s for {args.seconds:.0f}s: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} requests)"
        )
    finally:
        service.stop()
        await drop_database(settings["DATABASE_URL"], database)
        await delete_topics(settings["KAFKA_BOOTSTRAP_SERVERS"], env["YIWANG_TOPIC_PREFIX"])


if __name__ == "__main__":
    asyncio.run(main())
