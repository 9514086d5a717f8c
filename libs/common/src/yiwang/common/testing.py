"""An in-memory unit of work for services' unit tests.

It keeps the semantics that matter: the inbox refuses an event a consumer already took,
and events emitted in a block that fails are dropped, as a rolled-back transaction's
outbox rows would be. Services' fakes subclass it together with their own abstract
unit of work.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from yiwang.common.envelope import Envelope
from yiwang.common.events import Event
from yiwang.common.postgres import UnitOfWork


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        self.emitted = []
        self.inbox: set[tuple[str, str]] = set()
        self.committed: list[tuple[str, Event]] = []
        self._inbox_at_start: set[tuple[str, str]] = set()

    async def __aenter__(self) -> Self:
        self.emitted = []
        self._inbox_at_start = set(self.inbox)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.committed += [(topic, envelope.payload) for topic, envelope in self.emitted]
        else:
            self.inbox = self._inbox_at_start

    async def first_delivery(self, *, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.inbox:
            return False
        self.inbox.add((consumer, event_id))
        return True

    async def emit(self, payload: Event, *, topic: str) -> Envelope[Event]:
        envelope: Envelope[Event] = Envelope(payload=payload, source="/yiwang/test")
        self.emitted.append((topic, envelope))
        return envelope

    def committed_of(self, kind: type[Event]) -> list[Event]:
        return [event for _, event in self.committed if isinstance(event, kind)]
