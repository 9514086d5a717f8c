"""A department simulator: consumes the department topics and replies as departments would.

    python -m yiwang.department_dispatch.simulator [--speed 60] [--return-rate 0.1]

Each work order gets a signed acknowledgement after a few (simulated) minutes, progress,
and a resolution after hours; some lead orders are returned (退单) with a reason code and
some ask for assistance. Orders a hub ruling (终审) binds, and the hub's own lead orders
(it rules rather than returns), are never returned. Reminders (催办) are logged. Delays are
in simulated time, divided by --speed.

Replies are signed with each department's current signing secret, read (and made on first
use) from dispatch's database, as `cli signing-secret` does, and read again every minute
so that a rotation is followed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from yiwang.common.clock import SystemClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope, UndecodableRecord, decode, encode
from yiwang.common.events import (
    DepartmentReplied,
    DepartmentRole,
    ReplyKind,
    WorkOrderCancelled,
    WorkOrderIssued,
    WorkOrderReminder,
)
from yiwang.common.kafka_security import kafka_client_options
from yiwang.common.logs import configure_logging, get_logger
from yiwang.common.postgres import UnitOfWorkFactory, open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.postgres.pool import connect
from yiwang.common.runtime import service_migrations
from yiwang.common.settings import SecretRefused
from yiwang.common.topics import DEPT_REPLIES, department_topic
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.signing import sign_reply_record, signing_vault
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.app import DEFINITION
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.domain.model import HUB
from yiwang.department_dispatch.domain.replies import RETURN_REASONS

log = get_logger("department-simulator")
SECRETS_REFRESH_SECONDS = 60.0


class DepartmentSimulator:
    def __init__(self, settings: DispatchSettings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self.random = random.Random(args.seed)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._producer: AIOKafkaProducer | None = None
        self.vault = signing_vault(settings)
        self.secrets: dict[Department, handlers.SigningSecret] = {}

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the simulator is not running")
        return self._producer

    async def wait(self, minutes: float) -> None:
        await asyncio.sleep(minutes * 60 / self.args.speed)

    async def reply(self, order: WorkOrderIssued, kind: ReplyKind, **fields: object) -> None:
        payload = DepartmentReplied.model_validate(
            {
                "case_id": order.case_id,
                "work_order_id": order.work_order_id,
                "reply_id": f"sim-{uuid.uuid4().hex[:12]}",
                "kind": kind,
                **fields,
            }
        )
        record = encode(
            Envelope(payload=payload, source=f"/departments/{order.department}"),
            topic=self.settings.topic_prefix + DEPT_REPLIES,
        )
        current = self.secrets[order.department]
        signed = sign_reply_record(
            record, department=order.department, credential=current.credential
        )
        await self.producer.send_and_wait(
            signed.topic, signed.value, key=signed.key, headers=signed.headers
        )
        log.info("replied", department=order.department, case_id=order.case_id, kind=kind)

    @staticmethod
    def may_return(order: WorkOrderIssued) -> bool:
        """A ruling binds its department, and the hub rules instead of returning: both
        returns would be refused (ruling_is_binding, hub_must_rule)."""
        return (
            order.role is DepartmentRole.LEAD
            and order.ruling_id is None
            and order.department is not HUB
        )

    async def handle(self, order: WorkOrderIssued) -> None:
        rnd = self.random
        await self.wait(rnd.uniform(2, 20))
        if self.may_return(order) and rnd.random() < self.args.return_rate:
            code = rnd.choice([c for c in RETURN_REASONS if c != "other"])
            await self.reply(order, ReplyKind.RETURN, reason_code=code, note=RETURN_REASONS[code])
            return
        await self.reply(order, ReplyKind.ACKNOWLEDGE, note="签收")
        if order.whistle_id is not None:
            return  # a summons only asks the department to report
        await self.wait(rnd.uniform(30, 240))
        await self.reply(order, ReplyKind.PROGRESS, note="已到现场处置")
        if order.role is DepartmentRole.LEAD and rnd.random() < self.args.assist_rate:
            helper = rnd.choice([d for d in Department if d != order.department])
            await self.reply(order, ReplyKind.REQUEST_ASSISTANCE, assisting_departments=[helper])
        await self.wait(rnd.uniform(60, 600))
        await self.reply(
            order,
            ReplyKind.RESOLVE,
            result="已处置完毕" if order.role is DepartmentRole.LEAD else "协办部分已完成",
            evidence_urls=[f"https://evidence.example/{order.work_order_id}.jpg"],
        )

    def on_record(self, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        try:
            envelope = decode(value, headers)
        except UndecodableRecord as exc:
            log.warning("undecodable work order", error=exc.reason)
            return
        event = envelope.payload
        if isinstance(event, WorkOrderIssued) and event.work_order_id not in self.tasks:
            self.tasks[event.work_order_id] = asyncio.create_task(self.handle(event))
        elif isinstance(event, WorkOrderCancelled) and event.work_order_id in self.tasks:
            self.tasks.pop(event.work_order_id).cancel()
        elif isinstance(event, WorkOrderReminder):
            log.info(
                "reminded",
                department=event.department,
                case_id=event.case_id,
                kind=event.kind,
                deadline=event.deadline.isoformat() if event.deadline else None,
            )

    async def load_secrets(self, pool: asyncpg.Pool) -> None:
        """Every department's current signing secret (made on first use)."""
        uow = UnitOfWorkFactory(
            PostgresDispatchUnitOfWork,
            pool=lambda: pool,
            source="/departments/simulator",
            clock=SystemClock(),
            topic_prefix=self.settings.topic_prefix,
        )
        for department in Department:
            self.secrets[department] = await handlers.current_signing_secret(
                uow=uow(), vault=self.vault, department=department
            )

    async def follow_rotations(self, pool: asyncpg.Pool) -> None:
        while True:
            await asyncio.sleep(SECRETS_REFRESH_SECONDS)
            try:
                await self.load_secrets(pool)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("signing secrets not refreshed", error=str(exc))

    async def open_database(self) -> asyncpg.Pool:
        conn = await connect(self.settings.database_url)
        try:  # the service migrates too; whichever starts first makes the tables
            await apply_migrations(
                conn, schema=DEFINITION.schema, migrations=service_migrations(DEFINITION)
            )
        finally:
            await conn.close()
        return await open_pool(
            dsn=self.settings.database_url,
            schema=DEFINITION.schema,
            application_name="yiwang-department-simulator",
            max_size=2,
        )

    async def run(self) -> None:
        pool = await self.open_database()
        try:
            await self.load_secrets(pool)
            refresh = asyncio.create_task(self.follow_rotations(pool))
            try:
                await self.consume()
            finally:
                refresh.cancel()
        finally:
            await pool.close()

    async def consume(self) -> None:
        prefix = self.settings.topic_prefix
        consumer = AIOKafkaConsumer(
            *(prefix + department_topic(d) for d in Department),
            **kafka_client_options(self.settings),
            group_id=prefix + "department-simulator",
            auto_offset_reset="earliest",
        )
        # Created here: aiokafka binds to the running event loop.
        self._producer = AIOKafkaProducer(
            **kafka_client_options(self.settings), enable_idempotence=True
        )
        await self.producer.start()
        await consumer.start()
        try:
            async for record in consumer:
                self.on_record(record.value, list(record.headers or ()))
        finally:
            await consumer.stop()
            await self.producer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m yiwang.department_dispatch.simulator")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated minutes per minute")
    parser.add_argument("--return-rate", type=float, default=0.1)
    parser.add_argument("--assist-rate", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    settings = DispatchSettings()
    configure_logging(
        service="department-simulator", level=settings.log_level, fmt=settings.log_format
    )
    try:
        simulator = DepartmentSimulator(settings, args)
    except SecretRefused as exc:
        sys.exit(f"department-simulator: {exc}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulator.run())


if __name__ == "__main__":
    main()
