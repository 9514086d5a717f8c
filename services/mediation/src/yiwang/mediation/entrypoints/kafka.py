"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_ROUTED
from yiwang.mediation import handlers


def kafka_router(runtime: Runtime) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_routed(envelope: Envelope[Any]) -> None:
        await handlers.record_routed_case(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(router, topic=CASE_ROUTED, handlers={CaseRouted: on_case_routed})

    return router
