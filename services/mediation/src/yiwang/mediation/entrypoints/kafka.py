"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    async def on_cases_routed(envelopes: Sequence[Envelope[Any]]) -> None:
        await handlers.open_routed_disputes(
            uow=uow(), envelopes=envelopes, clock=runtime.clock, policy=policy
        )

    # Gathered: nearly every routing decision is dispatch's and skipped here, and a dispute
    # opened half a second later waits on no one (mediation runs in days).
    runtime.subscribe(
        router,
        topic=CASE_ROUTED,
        handlers={},
        batched={CaseRouted: on_cases_routed},
        gathered=True,
    )
    return router
