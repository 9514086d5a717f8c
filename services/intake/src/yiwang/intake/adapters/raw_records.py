"""The Kafka records behind the envelopes a batched handler gets, for checks over what the
sender signed: the exact bytes of the value and key, and the headers.

libs/common hands a batch handler decoded envelopes only (`CONSUMED_RECORD` is set for a
record handled alone). A FastStream middleware on intake's router keeps the poll's raw
records for the length of its handling; `records_for` pairs each envelope with its record,
in order (the subscriber decodes a poll's records in order, so an envelope's record is the
next one with its `ce_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from faststream import BaseMiddleware
from yiwang.common.envelope import Envelope, header_map
from yiwang.common.subscriber import CONSUMED_RECORD

POLL: ContextVar[tuple[Any, ...]] = ContextVar("yiwang_intake_poll", default=())


class KeepRawRecords(BaseMiddleware):
    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        raw = msg.raw_message
        token = POLL.set(tuple(raw) if isinstance(raw, tuple | list) else (raw,))
        try:
            return await call_next(msg)
        finally:
            POLL.reset(token)


def records_for(envelopes: Sequence[Envelope[Any]]) -> list[Any | None]:
    """Each envelope's raw record, or None where it cannot be found."""
    alone = CONSUMED_RECORD.get()
    if len(envelopes) == 1 and alone is not None and _ce_id(alone) == envelopes[0].id:
        return [alone]
    poll = POLL.get()
    found: list[Any | None] = []
    at = 0
    for envelope in envelopes:
        match = None
        for n in range(at, len(poll)):
            if _ce_id(poll[n]) == envelope.id:
                match, at = poll[n], n + 1
                break
        found.append(match)
    return found


def position(record: Any) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}"


def _ce_id(record: Any) -> str | None:
    return header_map(record.headers).get("ce_id")
