"""Fakes for the subscriber's unit tests: a dead-letter office that keeps what it would
send, a consumer record, a case received, and a record handler to test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.events import CaseReceived
from yiwang.common.kafka_security import KafkaSecurity
from yiwang.common.producer import EventProducer
from yiwang.common.subscriber import BatchEventHandler, EventHandler, _RecordHandler


class Letters(DeadLetterOffice):
    """Keeps what would go to the dead-letter topic."""

    def __init__(self) -> None:
        super().__init__(
            producer=EventProducer(
                bootstrap_servers="unused:9092", client_id="t", security=KafkaSecurity()
            ),
            service="test",
        )
        self.sent: list[str] = []

    async def send(self, *, record: Any, group_id: str, error: str) -> None:
        self.sent.append(error)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def a_case_received() -> CaseReceived:
    return CaseReceived(
        case_id="case-1",
        case=CaseFacts(
            case_id="case-1",
            case_number="LZ-20261121-0001",
            category="fire-hazard",
            title="楼道堆放杂物",
            description="楼道堆满纸箱",
            channel=Channel.GRID_WORKER,
            location=Location(lon=112.56, lat=37.87),
        ),
        received_at=datetime(2026, 11, 21, 8, 30, tzinfo=UTC),
    )


def record_handler(
    *,
    topic: str = "case.received.v1",
    by_type: Mapping[str, EventHandler] | None = None,
    batched: Mapping[str, BatchEventHandler] | None = None,
    letters: Letters | None = None,
) -> _RecordHandler:
    """The subscriber's record handler for one subscription (`topic` may name several)."""
    return _RecordHandler(
        service="test",
        topic=topic,
        group_id="g",
        by_type=dict(by_type or {}),
        batched=dict(batched or {}),
        dead_letters=letters if letters is not None else Letters(),
        max_attempts=5,
        on_invalid=None,
    )
