"""The project's alert rules on a live Prometheus (make run's, infra/prometheus_local.py),
scraping real services through real outages:
- the broker stops under a trickle of submissions: YiwangOutboxBacklog fires, and
  resolves once the broker is back and the backlog is published;
- a consumer's database refuses connections while records arrive: YiwangConsumerLagHigh
  fires, and resolves once it is back and the records are consumed.

The broker here is a Kafka of its own (the local stack run from a copy of infra/, on its own
ports), so stopping it leaves the shared one alone. The rules are the project's, with their
waits (`for:`) shortened and two thresholds lowered (named below) so that the test takes
a minute or two, not a quarter of an hour.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from support import ServiceProcess, create_database, drop_database, free_port
from waiting import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import prometheus_local
from yiwang.common.envelope import Envelope, encode
from yiwang.common.events import CaseStateChanged
from yiwang.common.kafka_security import KafkaSecurity, kafka_client_options
from yiwang.common.settings import CommonSettings
from yiwang.common.states import CaseState
from yiwang.common.topic_admin import create_topics
from yiwang.common.topics import CASE_LIFECYCLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"talert{uuid.uuid4().hex[:6]}."
# (in the rule file, in the test's copy): thresholds that take minutes to reach in earnest.
LOWERED = {
    "max by (service) (yiwang_outbox_oldest_age_seconds) > 120": (
        "max by (service) (yiwang_outbox_oldest_age_seconds) > 8"
    ),
    "max by (group, topic) (yiwang_consumer_lag) > 1000": (
        "max by (group, topic) (yiwang_consumer_lag) > 50"
    ),
}


def quick_rules(directory: Path) -> Path:
    text = (prometheus_local.RULES / "yiwang.rules.yml").read_text(encoding="utf-8")
    for original, lowered in LOWERED.items():
        assert original in text, f"the rule changed: {original}"
        text = text.replace(original, lowered)
    text = re.sub(r"for: \d+[smh]", "for: 4s", text)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "yiwang.rules.yml").write_text(text, encoding="utf-8")
    return directory


class OwnKafka:
    """The local stack's Kafka, run from a copy of infra/ on free ports."""

    def __init__(self, root: Path) -> None:
        shutil.copytree(ROOT / "infra" / "kafka", root / "infra" / "kafka")
        shutil.copytree(ROOT / "infra" / "devstack", root / "infra" / "devstack",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        shutil.copy(ROOT / "infra" / "stack.py", root / "infra" / "stack.py")
        self.root = root
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_"))},
            "KAFKA_PORT": str(free_port()),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
        }

    def stack(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, str(self.root / "infra" / "stack.py"), *args],
            env=self.env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def settings(self, *args: str) -> dict[str, str]:
        lines = self.stack(*args).stdout.splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def tools(self) -> CommonSettings:
        """The yiwang-tools user's settings for this broker."""
        found = {k: v for k, v in self.settings("env").items() if k.startswith("KAFKA_")}
        return CommonSettings.model_validate(found)


@pytest.fixture(scope="module")
def kafka_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnKafka]:
    own = OwnKafka(tmp_path_factory.mktemp("own-kafka"))
    own.stack("up", "--only", "kafka")
    own.stack("acls", "grant", "--prefix", PREFIX)
    settings = own.tools()
    asyncio.run(
        create_topics(
            bootstrap_servers=settings.kafka_bootstrap_servers, prefix=PREFIX,
            security=KafkaSecurity.from_settings(settings),
        )
    )  # fmt: skip
    try:
        yield own
    finally:
        subprocess.run(
            [sys.executable, str(own.root / "infra" / "stack.py"), "down", "--only", "kafka"],
            env=own.env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip


def service(
    module: str, name: str, own: OwnKafka, database: str, infra: dict[str, str], log_dir: Path
) -> ServiceProcess:
    tools = own.settings("env")
    env = {
        **{k: v for k, v in infra.items() if not k.startswith("KAFKA_")},
        **{k: v for k, v in tools.items() if k.startswith("KAFKA_")},
        **own.settings("credentials", name),
        "DATABASE_URL": database,
        "YIWANG_TOPIC_PREFIX": PREFIX,
    }
    return ServiceProcess(module, env=env, log_path=log_dir / f"{name}.log", own_kafka_user=False)


def alert_state(port: int, name: str) -> str:
    """'firing', 'pending' or 'inactive' for the alert `name` on the Prometheus at port."""
    alerts = prometheus_local.query("/api/v1/alerts", at=port)["alerts"]
    states = {a["state"] for a in alerts if a["labels"].get("alertname") == name}
    return "firing" if "firing" in states else "pending" if states else "inactive"


async def wait_state(port: int, name: str, state: str, *, within: float) -> None:
    async def now() -> str:
        return await asyncio.to_thread(alert_state, port, name)

    seen = await eventually(now, until=lambda s: s == state, within=within, every=1.0)
    assert seen == state, f"{name} is {seen}, not {state}, after {within:.0f}s"


async def trickle(url: str, key: str, stop: asyncio.Event) -> int:
    """A submission every half second, each at a spot of its own (no duplicates)."""
    sent = 0
    async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=10) as client:
        while not stop.is_set():
            response = await client.post(f"{url}/v1/cases", json={
                "channel": "portal", "category": "road-damage", "title": "路面塌陷",
                "description": "请处理",
                "location": {"lon": 113.40 + (sent % 50) * 0.005, "lat": 37.70 + sent // 50 * 0.005},
            })  # fmt: skip
            assert response.status_code in (200, 201, 202), response.text
            sent += 1
            await asyncio.sleep(0.5)
    return sent


async def test_outbox_backlog_and_consumer_lag_alerts_fire_and_resolve(
    kafka_of_its_own: OwnKafka, infra: dict[str, str], tmp_path: Path
) -> None:
    own = kafka_of_its_own
    intake_db = await create_database(infra["DATABASE_URL"])
    oversight_db = await create_database(infra["DATABASE_URL"])
    intake = service("yiwang.intake.app", "intake", own, intake_db, infra, tmp_path)
    oversight = service("yiwang.oversight.app", "oversight", own, oversight_db, infra, tmp_path)
    port = free_port()
    prometheus: subprocess.Popen[bytes] | None = None
    stop = asyncio.Event()
    admin = await asyncpg.connect(infra["DATABASE_URL"])
    oversight_name = oversight_db.rsplit("/", 1)[1]
    try:
        await asyncio.gather(asyncio.to_thread(intake.start), asyncio.to_thread(oversight.start))
        key = intake.cli("issue-key", "--platform", "alerts", "--scopes", "submit,read")
        assert key.returncode == 0, key.stderr
        prometheus = prometheus_local.start(
            tmp_path, {"intake": intake.port, "oversight": oversight.port},
            {**os.environ, "PROMETHEUS_PORT": str(port)}, rules=quick_rules(tmp_path / "rules"),
            interval="1s",
        )  # fmt: skip
        assert prometheus_local.wait_ready(at=port)
        submitting = asyncio.create_task(trickle(intake.url, key.stdout.strip(), stop))
        await asyncio.sleep(5)
        assert alert_state(port, "YiwangOutboxBacklog") == "inactive"

        # The broker stops: submissions are still taken, their events wait in the outbox.
        await asyncio.to_thread(own.stack, "down", "--only", "kafka")
        await wait_state(port, "YiwangOutboxBacklog", "firing", within=120)
        await asyncio.to_thread(own.stack, "up", "--only", "kafka")
        await wait_state(port, "YiwangOutboxBacklog", "inactive", within=180)
        stop.set()
        assert await submitting > 20

        # Oversight's database refuses connections while its records keep coming.
        await admin.execute(f'ALTER DATABASE "{oversight_name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            oversight_name,
        )
        await publish_lifecycle(own, count=300)
        await wait_state(port, "YiwangConsumerLagHigh", "firing", within=120)
        await admin.execute(f'ALTER DATABASE "{oversight_name}" ALLOW_CONNECTIONS true')
        await wait_state(port, "YiwangConsumerLagHigh", "inactive", within=180)
        dead = int(oversight_metric(oversight, "yiwang_dead_letters_total"))
        assert dead == 0  # the records waited out the outage: none was dead-lettered
    finally:
        stop.set()
        await admin.execute(f'ALTER DATABASE "{oversight_name}" ALLOW_CONNECTIONS true')
        await admin.close()
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=20)
        intake.stop()
        oversight.stop()
        await drop_database(infra["DATABASE_URL"], intake_db)
        await drop_database(infra["DATABASE_URL"], oversight_db)


async def publish_lifecycle(own: OwnKafka, *, count: int) -> None:
    producer = AIOKafkaProducer(**kafka_client_options(own.tools()))
    await producer.start()
    try:
        for _ in range(count):
            change = CaseStateChanged(
                case_id=str(uuid.uuid4()), from_state=None, to_state=CaseState.RECEIVED,
                actor="intake", at=datetime.now(UTC),
            )  # fmt: skip
            record = encode(Envelope(payload=change, source="/test"), topic=PREFIX + CASE_LIFECYCLE)
            await producer.send(record.topic, value=record.value, key=record.key,
                                headers=record.headers)  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()


def oversight_metric(oversight: ServiceProcess, name: str) -> float:
    text = httpx.get(f"{oversight.url}/metrics", timeout=5).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + "{") or line.startswith(name + " ")]  # fmt: skip
    return sum(values)
