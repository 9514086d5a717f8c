"""Dead letters: records that cannot be handled go to `<topic>.dlq`, the reason in headers.

The original key, value and headers are kept, so an operator can inspect the record and
replay it to its origin topic once the cause is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from yiwang.common.envelope import KafkaRecord
from yiwang.common.logs import get_logger
from yiwang.common.producer import EventProducer
from yiwang.common.telemetry import DEAD_LETTERS
from yiwang.common.topics import dead_letter_topic

log = get_logger(__name__)


class DeadLetterOffice:
    """Sends records that cannot be handled to `<topic>.dlq`, with the reason in headers."""

    def __init__(self, *, producer: EventProducer, service: str) -> None:
        self._producer = producer
        self._service = service

    async def send(self, *, record: Any, group_id: str, error: str) -> None:
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
        headers += [
            ("dlq_error", error[:2000].encode()),
            ("dlq_origin_topic", record.topic.encode()),
            ("dlq_origin_partition", str(record.partition).encode()),
            ("dlq_origin_offset", str(record.offset).encode()),
            ("dlq_consumer_group", group_id.encode()),
            ("dlq_service", self._service.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_records(
            [
                KafkaRecord(
                    dead_letter_topic(record.topic), record.key or b"", record.value or b"", headers
                )
            ]
        )
        DEAD_LETTERS.labels(self._service, record.topic).inc()
        log.warning(
            "dead-lettered record",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=error[:500],
        )
