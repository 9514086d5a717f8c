"""A department simulator: consumes the department topics and replies as departments would.

    python -m yiwang.department_dispatch.simulator [--speed 60] [--return-rate 0.1]

Each work order gets a signed acknowledgement after a few (simulated) minutes, progress,
and a resolution after hours; some lead orders are returned (退单) with a reason code and
some ask for assistance. Orders a hub ruling (终审) binds, and the hub's own lead orders
(it rules rather than returns), are never returned. Reminders (催办) are logged. Delays are
in simulated time, divided by --speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
from yiwang.common.logs import configure_logging, get_logger
from yiwang.common.topics import DEPT_REPLIES, department_topic
from yiwang.department_dispatch.config import DispatchSettings
from yiwang.department_dispatch.domain.credentials import (
    DEPARTMENT_HEADER,
    SIGNATURE_HEADER,
    department_secret,
    sign,
)
from yiwang.department_dispatch.domain.model import HUB
from yiwang.department_dispatch.domain.replies import RETURN_REASONS

log = get_logger("department-simulator")


class DepartmentSimulator:
    def __init__(self, settings: DispatchSettings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self.random = random.Random(args.seed)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._producer: AIOKafkaProducer | None = None

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
        secret = department_secret(self.settings.signing_key, order.department)
        headers = [
            *record.headers,
            (DEPARTMENT_HEADER, order.department.value.encode()),
            (SIGNATURE_HEADER, sign(secret, record.value).encode()),
        ]
        await self.producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=headers
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

    async def run(self) -> None:
        prefix = self.settings.topic_prefix
        consumer = AIOKafkaConsumer(
            *(prefix + department_topic(d) for d in Department),
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=prefix + "department-simulator",
            auto_offset_reset="earliest",
        )
        # Created here: aiokafka binds to the running event loop.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_idempotence=True
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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(DepartmentSimulator(settings, args).run())


if __name__ == "__main__":
    main()
