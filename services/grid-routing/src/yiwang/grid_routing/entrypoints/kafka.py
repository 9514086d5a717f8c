"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseLeftMediation, CaseReceived, CaseReturned
from yiwang.common.runtime import Runtime
from yiwang.common.topics import CASE_RECEIVED, CASE_RETURNED
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.handlers import routing


def kafka_router(
    runtime: Runtime,
    *,
    active_grid: ActiveGrid,
    matrix: ResponsibilityMatrix,
    uow: Callable[[], RoutingUnitOfWork],
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_received(envelopes: Sequence[Envelope[Any]]) -> None:
        await routing.route_received_cases(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelopes=envelopes,
        )

    # A poll's receipts at once, in one transaction (a few statements for the lot).
    runtime.subscribe(
        router, topic=CASE_RECEIVED, handlers={}, batched={CaseReceived: on_case_received}
    )

    async def on_case_returned(envelope: Envelope[Any]) -> None:
        await routing.reroute_returned_case(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelope=envelope,
        )

    async def on_case_left_mediation(envelope: Envelope[Any]) -> None:
        await routing.route_after_mediation(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelope=envelope,
        )

    # One at a time: a case returned twice in one poll must be re-routed in order.
    runtime.subscribe(
        router,
        topic=CASE_RETURNED,
        handlers={CaseReturned: on_case_returned, CaseLeftMediation: on_case_left_mediation},
    )

    return router
