"""What FastStream hands a subscriber, made safe and cheap: the poll's records as they came
(headers made readable for FastStream only), no body decoding, and the poll itself by a
context variable instead of an injected `KafkaMessage`."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiokafka import ConsumerRecord

# The poll being handled, as FastStream parsed it (its records, and the consumer to seek).
POLLED: ContextVar[Any] = ContextVar("yiwang_polled")


async def tolerant_parsing(
    records: tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[tuple[ConsumerRecord[Any, Any], ...]], Awaitable[Any]],
) -> Any:
    """FastStream reads every header value as UTF-8 and fails the whole poll, again and
    again, on one it cannot read; it gets copies with such values made readable, and the
    handlers get the records as they came."""
    parsed = await original(tuple(_readable_headers(r) for r in records))
    parsed.raw_message = records
    POLLED.set(parsed)
    return parsed


def _readable_headers(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    try:
        for _, value in record.headers:
            value.decode()
    except UnicodeDecodeError:
        return dataclasses.replace(
            record,
            headers=[(k, v.decode(errors="replace").encode()) for k, v in record.headers],
        )
    return record


async def no_body_decoding(_message: Any) -> None:
    """Records are decoded one by one in `_RecordHandler`; FastStream's own JSON decoding
    of every body would cost time and fail the whole poll on one malformed body."""
