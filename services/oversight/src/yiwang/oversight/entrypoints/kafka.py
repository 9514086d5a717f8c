"""Kafka entrypoints: on_<event> subscribers that decode and call a handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseEvaluated,
    CaseRouted,
    CaseStateChanged,
    MediationProgressed,
    RulingMade,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.runtime import Runtime
from yiwang.common.subscriber import CONSUMED_RECORD
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_ROUTED,
    DISPATCH_WHISTLES,
    MEDIATION_EVENTS,
    OVERSIGHT_EVALUATIONS,
)
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.invitation import EvaluationTokenRefused
from yiwang.oversight.handlers import evaluations, projection


def kafka_router(
    runtime: Runtime, *, uow: Callable[[], OversightUnitOfWork], policy: OversightPolicy
) -> KafkaRouter:
    router = KafkaRouter()
    clock = runtime.clock

    async def on_timeline_events(envelopes: Sequence[Envelope[Any]]) -> None:
        """A poll's events of every kind the timeline takes, in one transaction."""
        await projection.record_events(
            uow=uow(), envelopes=envelopes, now=clock.now(), policy=policy
        )

    async def on_case_evaluated(envelope: Envelope[Any]) -> None:
        try:
            await evaluations.take_evaluation(
                uow=uow(), envelope=envelope, now=clock.now(), policy=policy
            )
        except EvaluationTokenRefused as exc:
            # Without its token, or with a wrong, used or expired one, an evaluation never
            # becomes acceptable: dead-lettered at once, not retried.
            record = CONSUMED_RECORD.get()
            if record is None:
                raise
            await runtime.dead_letters.send(
                record=record,
                group_id=f"{runtime.settings.topic_prefix}yiwang-{runtime.name}",
                error=f"refused: {exc}",
            )

    # Oversight watches: no case waits on its projection, so every subscription gathers.
    # The timeline's four topics are one consumer: a poll holds a case's events from all of
    # them, folded once in one transaction, not once per topic in four contending ones.
    timeline = on_timeline_events
    runtime.subscribe(
        router,
        topic=(CASE_LIFECYCLE, CASE_ROUTED, DISPATCH_WHISTLES, MEDIATION_EVENTS),
        handlers={},
        batched={
            CaseStateChanged: timeline,
            RulingMade: timeline,
            CaseRouted: timeline,
            WhistleBlown: timeline,
            WhistleAttendanceRecorded: timeline,
            MediationProgressed: timeline,
        },
        gathered=True,
    )
    runtime.subscribe(
        router,
        topic=OVERSIGHT_EVALUATIONS,
        handlers={CaseEvaluated: on_case_evaluated},
        gathered=True,
    )
    return router
