"""Kafka entrypoints: platform submissions in, the lifecycle for intake's view."""

from __future__ import annotations

import json
from typing import Any

from faststream.kafka import KafkaRouter
from pydantic import ValidationError
from yiwang.common.case import SourceRef
from yiwang.common.envelope import Envelope, UndecodableRecord, header_map
from yiwang.common.events import CaseStateChanged, SubmitCase
from yiwang.common.service import Runtime
from yiwang.common.topics import CASE_LIFECYCLE, INTAKE_SUBMISSIONS
from yiwang.intake import handlers
from yiwang.intake.dependencies import IntakeDependencies
from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.submission import CaseSubmission, SubmissionInvalid


def _source_of(value: bytes | None) -> SourceRef | None:
    """The sender's (system, external_id) from an invalid record, if it can be read."""
    try:
        return SourceRef.model_validate(json.loads(value or b"{}").get("source"))
    except (ValueError, ValidationError, AttributeError):
        return None


def kafka_router(runtime: Runtime, deps: IntakeDependencies) -> KafkaRouter:
    router = KafkaRouter()

    async def on_submit_case(envelope: Envelope[SubmitCase]) -> None:
        command = envelope.payload
        try:
            await handlers.submit_case(
                uow=deps.uow(),
                submission=CaseSubmission.from_platform(command),
                policy=deps.policy,
                vault=deps.vault,
                numbers=deps.numbers(),
                clock=runtime.clock,
                idempotency=IdempotencyKey(
                    f"source:{command.source.system}", command.source.external_id
                ),
            )
        except SubmissionInvalid as exc:
            await handlers.reject_submission(
                uow=deps.uow(),
                event_id=envelope.id,
                source=command.source,
                errors=[(exc.field, exc.reason)],
            )

    async def on_invalid_submission(record: Any, error: UndecodableRecord) -> None:
        event_id = header_map(record.headers).get(
            "ce_id", f"{record.topic}:{record.partition}:{record.offset}"
        )
        await handlers.reject_submission(
            uow=deps.uow(),
            event_id=event_id,
            source=_source_of(record.value),
            errors=list(error.field_errors),
        )

    async def on_case_state_changed(envelope: Envelope[CaseStateChanged]) -> None:
        await handlers.record_state_change(uow=deps.uow(), envelope=envelope)

    runtime.subscribe(
        router,
        topic=INTAKE_SUBMISSIONS,
        handlers={SubmitCase: on_submit_case},
        on_invalid=on_invalid_submission,
    )
    runtime.subscribe(
        router, topic=CASE_LIFECYCLE, handlers={CaseStateChanged: on_case_state_changed}
    )
    return router
