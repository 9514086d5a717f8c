"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.oversight import handlers


def kafka_router(runtime: Runtime) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_state_changed(envelope: Envelope[Any]) -> None:
        await handlers.record_state_change(uow=runtime.unit_of_work(), envelope=envelope)

    runtime.subscribe(
        router, topic=CASE_LIFECYCLE, handlers={CaseStateChanged: on_case_state_changed}
    )

    return router
