"""Kafka entrypoints: platform submissions in, the lifecycle for intake's view."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from faststream.kafka import KafkaRouter
from pydantic import ValidationError
from yiwang.common.case import SourceRef
from yiwang.common.envelope import Envelope, UndecodableRecord, header_map
from yiwang.common.events import CaseStateChanged, SubmitCase
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.runtime import Runtime
from yiwang.common.topics import CASE_LIFECYCLE, INTAKE_SUBMISSIONS
from yiwang.intake import handlers
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import IdempotencyKey, IntakePolicy
from yiwang.intake.domain.batch import SubmissionRequest


def _source_of(value: bytes | None) -> SourceRef | None:
    """The sender's (system, external_id) from an invalid record, if it can be read."""
    try:
        return SourceRef.model_validate(json.loads(value or b"{}").get("source"))
    except (ValueError, ValidationError, AttributeError):
        return None


def platform_request(envelope: Envelope[SubmitCase]) -> SubmissionRequest:
    """Idempotent on (source system, external id), as over HTTP."""
    source = envelope.payload.source
    return SubmissionRequest(
        envelope.payload,
        idempotency=IdempotencyKey(f"source:{source.system}", source.external_id),
        record=envelope,
    )


def kafka_router(
    runtime: Runtime,
    *,
    uow: Callable[[], IntakeUnitOfWork],
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_submit_case(envelopes: Sequence[Envelope[SubmitCase]]) -> None:
        """A poll's submissions, admitted in one transaction; refusals answered in it too."""
        await handlers.admit_submissions(
            uow=uow(),
            requests=[platform_request(envelope) for envelope in envelopes],
            policy=policy,
            vault=vault,
            numbers=numbers,
            clock=runtime.clock,
        )

    async def on_invalid_submission(record: Any, error: UndecodableRecord) -> None:
        """A record that cannot be read as a submission: its sender hears why."""
        event_id = header_map(record.headers).get(
            "ce_id", f"{record.topic}:{record.partition}:{record.offset}"
        )
        await handlers.reject_submission(
            uow=uow(),
            event_id=event_id,
            source=_source_of(record.value),
            errors=list(error.field_errors),
        )

    async def on_case_state_changed(envelopes: Sequence[Envelope[CaseStateChanged]]) -> None:
        """A poll's lifecycle: intake's own entries come back too (most of them, at a high
        intake rate), so one transaction and no per-record work for the lot."""
        await handlers.record_state_changes(
            uow=uow(), envelopes=envelopes, window=policy.duplicates
        )

    runtime.subscribe(
        router,
        topic=INTAKE_SUBMISSIONS,
        handlers={},
        batched={SubmitCase: on_submit_case},
        on_invalid=on_invalid_submission,
    )
    runtime.subscribe(
        router, topic=CASE_LIFECYCLE, handlers={}, batched={CaseStateChanged: on_case_state_changed}
    )
    return router
