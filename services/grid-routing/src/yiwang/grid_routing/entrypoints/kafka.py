"""Kafka entrypoints: decode, call a handler. Registration only, no rules here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseLeftMediation, CaseReceived, CaseReopened, CaseReturned
from yiwang.common.runtime import Runtime
from yiwang.common.sla import Duration
from yiwang.common.topics import CASE_RECEIVED, CASE_REOPENED, CASE_RETURNED
from yiwang.grid_routing.adapters.active_grid import ActiveGrid
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.handlers import passing_up, routing


def kafka_router(
    runtime: Runtime,
    *,
    active_grid: ActiveGrid,
    matrix: ResponsibilityMatrix,
    uow: Callable[[], RoutingUnitOfWork],
    grid_duration: Duration,
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_received(envelopes: Sequence[Envelope[Any]]) -> None:
        await routing.route_received_cases(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelopes=envelopes,
            grid_duration=grid_duration,
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

    async def on_case_reopened(envelope: Envelope[Any]) -> None:
        await passing_up.pass_up_reopened_case(
            uow=uow(),
            index=await active_grid.current(),
            matrix=matrix,
            clock=runtime.clock,
            envelope=envelope,
        )

    # One consumer for the three topics. A poll's receipts go at once, in one transaction
    # (a few statements for the lot). Returns are taken one at a time: a case returned
    # twice in one poll must be re-routed in order. A matter settled in the grid that the
    # resident was unsatisfied with leaves the grid; reopenings of cases dispatch handled
    # are dispatch's, and ignored here.
    runtime.subscribe(
        router,
        topic=(CASE_RECEIVED, CASE_RETURNED, CASE_REOPENED),
        handlers={
            CaseReturned: on_case_returned,
            CaseLeftMediation: on_case_left_mediation,
            CaseReopened: on_case_reopened,
        },
        batched={CaseReceived: on_case_received},
    )

    return router
