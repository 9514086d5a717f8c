"""Kafka entrypoints: platforms' signed submissions in, the lifecycle for intake's view,
and oversight's evaluation invitations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaRouter
from pydantic import ValidationError
from yiwang.common.case import SourceRef
from yiwang.common.envelope import Envelope, UndecodableRecord, header_map
from yiwang.common.events import CaseStateChanged, EvaluationInvited, SubmitCase
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.runtime import Runtime
from yiwang.common.topics import CASE_LIFECYCLE, INTAKE_SUBMISSIONS, OVERSIGHT_INVITATIONS
from yiwang.intake import handlers
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.raw_records import KeepRawRecords, position, records_for
from yiwang.intake.adapters.signing_secrets import SigningSecretStore
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import IntakePolicy


def _source_of(value: bytes | None) -> SourceRef | None:
    """The sender's (system, external_id) from an invalid record, if it can be read."""
    try:
        return SourceRef.model_validate(json.loads(value or b"{}").get("source"))
    except (ValueError, ValidationError, AttributeError):
        return None


def signing_time() -> datetime:
    """Signatures are checked against real time, whatever speed the demo clock runs at:
    platforms sign with theirs."""
    return datetime.now(UTC)


def kafka_router(
    runtime: Runtime,
    *,
    uow: Callable[[], IntakeUnitOfWork],
    policy: IntakePolicy,
    vault: PersonalDataVault,
    numbers: CaseNumberIssuer,
    signing: SigningSecretStore,
) -> KafkaRouter:
    router = KafkaRouter(middlewares=[KeepRawRecords])

    async def on_submit_case(envelopes: Sequence[Envelope[SubmitCase]]) -> None:
        """A poll's submissions, each checked against its platform's signature, admitted in
        one transaction; refusals answered in it too."""
        requests = await handlers.signed_requests(
            envelopes, records_for(envelopes), signing=signing, now=signing_time()
        )
        await handlers.admit_submissions(
            uow=uow(), requests=requests, policy=policy, vault=vault, numbers=numbers,
            clock=runtime.clock,
        )  # fmt: skip

    async def on_invalid_submission(record: Any, error: UndecodableRecord) -> None:
        """A record that cannot be read as a submission: its sender hears why (only that
        it is not trusted, when its signature does not hold)."""
        event_id = header_map(record.headers).get("ce_id", position(record))
        source = _source_of(record.value)
        refusal = await handlers.check_undecodable(
            record, system=source.system if source else None, signing=signing, now=signing_time()
        )
        await handlers.reject_submission(
            uow=uow(),
            event_id=event_id,
            source=source,
            errors=[(refusal.field, refusal.reason)] if refusal else list(error.field_errors),
            answer_id=position(record),
        )

    async def on_case_state_changed(envelopes: Sequence[Envelope[CaseStateChanged]]) -> None:
        """A poll's lifecycle: intake's own entries come back too (most of them, at a high
        intake rate), so one transaction and no per-record work for the lot."""
        await handlers.record_state_changes(
            uow=uow(), envelopes=envelopes, window=policy.duplicates
        )

    async def on_evaluation_invited(envelope: Envelope[EvaluationInvited]) -> None:
        await handlers.record_invitation(uow=uow(), envelope=envelope, vault=vault)

    runtime.subscribe(
        router,
        topic=INTAKE_SUBMISSIONS,
        handlers={},
        batched={SubmitCase: on_submit_case},
        on_invalid=on_invalid_submission,
    )
    runtime.subscribe(
        router,
        topic=CASE_LIFECYCLE,
        handlers={},
        batched={CaseStateChanged: on_case_state_changed},
        gathered=True,  # intake's view of its cases: no case waits on it
    )
    # A group of its own: a few records a day need not make the busy consumers of
    # submissions rebalance when it joins or leaves.
    runtime.subscribe(
        router,
        topic=OVERSIGHT_INVITATIONS,
        handlers={EvaluationInvited: on_evaluation_invited},
        group_id="yiwang-intake-invitations",  # prompt: a resident waits for the link
    )
    return router
