"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseReturned
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_RECEIVED, CASE_RETURNED
from yiwang.grid_routing import handlers


def kafka_router(runtime: Runtime) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_received(envelope: Envelope[Any]) -> None:
        await handlers.record_received_case(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(router, topic=CASE_RECEIVED, handlers={CaseReceived: on_case_received})

    async def on_case_returned(envelope: Envelope[Any]) -> None:
        await handlers.record_returned_case(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(router, topic=CASE_RETURNED, handlers={CaseReturned: on_case_returned})

    return router
