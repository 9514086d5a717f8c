"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseReturned
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_RECEIVED, CASE_RETURNED
from yiwang.grid_routing import handlers
from yiwang.grid_routing.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix


def kafka_router(
    runtime: Runtime,
    *,
    active_grid: ActiveGrid,
    matrix: ResponsibilityMatrix,
    unit_of_work: Callable[[], RoutingUnitOfWork],
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_received(envelope: Envelope[Any]) -> None:
        await handlers.route_received_case(
            uow=unit_of_work(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelope=envelope,
        )

    runtime.subscribe(router, topic=CASE_RECEIVED, handlers={CaseReceived: on_case_received})

    async def on_case_returned(envelope: Envelope[Any]) -> None:
        await handlers.reroute_returned_case(
            uow=unit_of_work(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelope=envelope,
        )

    runtime.subscribe(router, topic=CASE_RETURNED, handlers={CaseReturned: on_case_returned})

    return router
