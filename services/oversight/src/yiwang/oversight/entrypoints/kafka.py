"""Kafka entrypoints: on_<event> subscribers that decode and call a handler."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseEvaluated,
    CaseRouted,
    CaseStateChanged,
    MediationProgressed,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.service import Runtime
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_ROUTED,
    DISPATCH_WHISTLES,
    MEDIATION_EVENTS,
    OVERSIGHT_EVALUATIONS,
)
from yiwang.oversight import handlers
from yiwang.oversight.adapters.unit_of_work import unit_of_work


def kafka_router(runtime: Runtime) -> KafkaRouter:
    router = KafkaRouter()

    async def on_case_state_changed(envelope: Envelope[Any]) -> None:
        await handlers.record_state_change(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    async def on_case_routed(envelope: Envelope[Any]) -> None:
        await handlers.record_routing(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    async def on_whistle_blown(envelope: Envelope[Any]) -> None:
        await handlers.record_whistle_blown(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    async def on_whistle_attendance_recorded(envelope: Envelope[Any]) -> None:
        await handlers.record_whistle_attendance(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    async def on_mediation_progressed(envelope: Envelope[Any]) -> None:
        await handlers.record_mediation_progress(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    async def on_case_evaluated(envelope: Envelope[Any]) -> None:
        await handlers.take_evaluation(
            uow=unit_of_work(runtime), envelope=envelope, now=runtime.clock.now()
        )

    runtime.subscribe(
        router, topic=CASE_LIFECYCLE, handlers={CaseStateChanged: on_case_state_changed}
    )
    runtime.subscribe(router, topic=CASE_ROUTED, handlers={CaseRouted: on_case_routed})
    runtime.subscribe(
        router,
        topic=DISPATCH_WHISTLES,
        handlers={
            WhistleBlown: on_whistle_blown,
            WhistleAttendanceRecorded: on_whistle_attendance_recorded,
        },
    )
    runtime.subscribe(
        router, topic=MEDIATION_EVENTS, handlers={MediationProgressed: on_mediation_progressed}
    )
    runtime.subscribe(
        router, topic=OVERSIGHT_EVALUATIONS, handlers={CaseEvaluated: on_case_evaluated}
    )
    return router
