"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted, DepartmentReplied, OversightAlertRaised
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_ROUTED, DEPT_REPLIES, OVERSIGHT_ALERTS
from yiwang.department_dispatch import handlers


def kafka_router(runtime: Runtime) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_routed(envelope: Envelope[Any]) -> None:
        await handlers.record_routed_case(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(router, topic=CASE_ROUTED, handlers={CaseRouted: on_case_routed})

    async def on_department_replied(envelope: Envelope[Any]) -> None:
        await handlers.record_department_reply(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(
        router, topic=DEPT_REPLIES, handlers={DepartmentReplied: on_department_replied}
    )

    async def on_oversight_alert_raised(envelope: Envelope[Any]) -> None:
        await handlers.record_oversight_alert(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(
        router, topic=OVERSIGHT_ALERTS, handlers={OversightAlertRaised: on_oversight_alert_raised}
    )

    return router
