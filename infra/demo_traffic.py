"""Demo traffic for `make run`: county platforms submitting cases over Kafka.

Submissions come from a synthetic county around Yangquan, Shanxi, with a realistic
category mix, a daily rhythm (quiet at night, busy mid-morning), and some repeats of the
same problem reported from nearby places.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from datetime import UTC, datetime

from yiwang.common.case import Location, Priority, SourceRef
from yiwang.common.envelope import Envelope
from yiwang.common.events import ReporterDetails, SubmitCase
from yiwang.common.kafka import EventProducer
from yiwang.common.topics import INTAKE_SUBMISSIONS

COUNTY_BOUNDS = (113.52, 37.82, 113.66, 37.92)  # lon/lat box of the synthetic county
CATEGORY_MIX = {
    "sanitation": 18, "illegal-parking": 12, "street-vending": 8, "noise": 8,
    "neighbour-dispute": 7, "property-dispute": 6, "food-safety": 5, "heating-failure": 5,
    "road-damage": 5, "illegal-construction": 4, "wage-arrears": 4, "price-fraud": 3,
    "elderly-care": 3, "subsistence-allowance": 2, "fire-hazard": 3, "gas-leak": 1,
    "water-outage": 3, "land-compensation-petition": 1, "family-dispute": 2,
}  # fmt: skip
TITLES = {
    "sanitation": "垃圾未及时清运",
    "illegal-parking": "车辆占用消防通道",
    "noise": "夜间施工噪声扰民",
}
PLATFORMS = ("yq-12345", "yq-grid-app", "yq-portal")


def daily_rhythm(now: datetime) -> float:
    """Relative load by hour in Asia/Shanghai: near zero at 04:00, highest around 10:00."""
    hour = (now.hour + 8 + now.minute / 60) % 24
    return 0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.15


def a_submission(rng: random.Random, previous: SubmitCase | None) -> SubmitCase:
    if previous is not None and rng.random() < 0.08:  # the same problem, reported again nearby
        lon = (previous.location.lon or 113.6) + rng.uniform(-0.0008, 0.0008)
        lat = (previous.location.lat or 37.86) + rng.uniform(-0.0008, 0.0008)
        category = previous.category
    else:
        lon, lat = (
            rng.uniform(COUNTY_BOUNDS[0], COUNTY_BOUNDS[2]),
            rng.uniform(COUNTY_BOUNDS[1], COUNTY_BOUNDS[3]),
        )
        category = rng.choices(list(CATEGORY_MIX), weights=list(CATEGORY_MIX.values()))[0]
    urgent = category in {"gas-leak", "fire-hazard", "water-outage", "heating-failure"}
    return SubmitCase(
        source=SourceRef(system=rng.choice(PLATFORMS), external_id=uuid.uuid4().hex[:16]),
        category=category,
        title=TITLES.get(category, f"群众反映：{category}"),
        description="演示数据：由合成县生成的诉求。",
        priority=Priority.URGENT if urgent else Priority.NORMAL,
        location=Location(lon=round(lon, 6), lat=round(lat, 6)),
        reporter=ReporterDetails(name="张三", phone=f"139{rng.randrange(10**8):08d}"),
        reported_at=datetime.now(UTC),
    )


async def run_demo(*, bootstrap_servers: str, rate: float, seed: int = 7) -> None:
    rng = random.Random(seed)
    producer = EventProducer(bootstrap_servers=bootstrap_servers, client_id="yiwang-demo")
    await producer.start()
    sent, previous = 0, None
    try:
        while True:
            submission = a_submission(rng, previous)
            await producer.publish(
                Envelope(payload=submission, source="/demo/county-platform"),
                topic=INTAKE_SUBMISSIONS,
            )
            sent, previous = sent + 1, submission
            if sent % 50 == 0:
                print(f"demo traffic: {sent} submissions sent", flush=True)
            # Compress the day: the rhythm follows the wall clock, at least 20% of `rate`.
            await asyncio.sleep(rng.expovariate(rate * max(0.2, daily_rhythm(datetime.now(UTC)))))
    finally:
        await producer.stop()
