"""An in-memory unit of work for services' unit tests.

It keeps the semantics that matter: the inbox refuses an event a consumer already took,
and events emitted in a block that fails are dropped, as a rolled-back transaction's
outbox rows would be; so are the writes of the fake repositories it is given. Services'
fakes subclass it together with their own abstract unit of work.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from yiwang.common.envelope import Envelope
from yiwang.common.events import Event
from yiwang.common.postgres import UnitOfWork


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, *, rolls_back: Iterable[object] = ()) -> None:
        """`rolls_back`: fake repositories whose state a failed block restores."""
        self.emitted = []
        self.inbox: set[tuple[str, str]] = set()
        self.committed: list[tuple[str, Event]] = []
        self._inbox_at_start: set[tuple[str, str]] = set()
        self._stores = list(rolls_back)
        self._stores_at_start: list[dict[str, Any]] = []

    async def __aenter__(self) -> Self:
        self.emitted = []
        self._inbox_at_start = set(self.inbox)
        self._stores_at_start = [copy.deepcopy(vars(store)) for store in self._stores]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.committed += [(topic, envelope.payload) for topic, envelope in self.emitted]
            return
        self.inbox = self._inbox_at_start
        for store, state in zip(self._stores, self._stores_at_start, strict=True):
            vars(store).clear()
            vars(store).update(state)

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
