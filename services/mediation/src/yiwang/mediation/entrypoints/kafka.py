"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_ROUTED
from yiwang.mediation import handlers
from yiwang.mediation.adapters.postgres import PostgresMediationUnitOfWork


def unit_of_work(runtime: Runtime) -> PostgresMediationUnitOfWork:
    return PostgresMediationUnitOfWork(
        runtime.pool,
        source=f"/yiwang/{runtime.name}",
        clock=runtime.clock,
        topic_prefix=runtime.settings.topic_prefix,
    )


def kafka_router(runtime: Runtime, policy: handlers.LadderPolicy) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_routed(envelope: Envelope[Any]) -> None:
        await handlers.open_routed_dispute(
            uow=unit_of_work(runtime), envelope=envelope, clock=runtime.clock, policy=policy
        )

    runtime.subscribe(router, topic=CASE_ROUTED, handlers={CaseRouted: on_case_routed})
    return router
