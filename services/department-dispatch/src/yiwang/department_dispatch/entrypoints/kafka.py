"""Kafka subscribers: decode, establish who sent it, call a handler. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaRouter
from yiwang.common.envelope import Envelope, header_map
from yiwang.common.events import (
    CaseReopened,
    CaseRouted,
    DepartmentReplied,
    OversightAlertRaised,
)
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.postgres import UnitOfWorkFactory
from yiwang.common.runtime import Runtime
from yiwang.common.subscriber import CONSUMED_RECORD
from yiwang.common.topics import CASE_REOPENED, CASE_ROUTED, DEPT_REPLIES, OVERSIGHT_ALERTS
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork


def kafka_router(
    runtime: Runtime,
    *,
    uow: UnitOfWorkFactory[PostgresDispatchUnitOfWork],
    vault: PersonalDataVault,
) -> KafkaRouter:
    router = KafkaRouter()
    clock = runtime.clock

    async def on_cases_routed(envelopes: Sequence[Envelope[Any]]) -> None:
        await handlers.dispatch_routed_cases(uow=uow(), envelopes=envelopes, clock=clock)

    async def on_department_replied(envelope: Envelope[Any]) -> None:
        # Identity is the signature over the exact record (value, key, ce_id, time), never
        # a field of the payload.
        record = CONSUMED_RECORD.get()
        signed = handlers.SignedRecord(
            headers=header_map(record.headers if record is not None else None),
            value=(record.value if record is not None else None) or b"",
            key=(record.key if record is not None else None) or b"",
            ce_id=envelope.id,
        )
        await handlers.take_signed_reply(
            uow=uow(), reply=envelope.payload, record=signed, vault=vault, clock=clock
        )

    async def on_oversight_alert_raised(envelope: Envelope[Any]) -> None:
        await handlers.take_oversight_alert(uow=uow(), envelope=envelope, clock=clock)

    async def on_case_reopened(envelope: Envelope[Any]) -> None:
        await handlers.rehandle_case(uow=uow(), envelope=envelope, clock=clock)

    # One consumer for the topics a case waits on: a poll's routing decisions go at once,
    # in one transaction; replies and reopenings one at a time, in order.
    runtime.subscribe(
        router,
        topic=(CASE_ROUTED, DEPT_REPLIES, CASE_REOPENED),
        handlers={DepartmentReplied: on_department_replied, CaseReopened: on_case_reopened},
        batched={CaseRouted: on_cases_routed},
    )
    runtime.subscribe(
        router,
        topic=OVERSIGHT_ALERTS,
        handlers={OversightAlertRaised: on_oversight_alert_raised},
        gathered=True,  # escalations: half a second is nothing to them
    )
    return router
