"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseRouted
from yiwang.common.runtime import Runtime
from yiwang.common.topics import CASE_ROUTED
from yiwang.mediation import handlers
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain.ladder import LadderPolicy


def kafka_router(
    runtime: Runtime, *, uow: Callable[[], MediationUnitOfWork], policy: LadderPolicy
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_routed(envelope: Envelope[Any]) -> None:
        await handlers.open_routed_dispute(
            uow=uow(), envelope=envelope, clock=runtime.clock, policy=policy
        )

    runtime.subscribe(router, topic=CASE_ROUTED, handlers={CaseRouted: on_case_routed})
    return router
