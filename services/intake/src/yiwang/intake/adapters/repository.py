"""Intake's repository: cases, reporters, idempotency keys, numbers and the timeline."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.batch import RecordedKey
from yiwang.intake.domain.case import CaseView, OpenCase, TimelineEntry
from yiwang.intake.domain.lifecycle import ClosedDuplicate, StateUpdate
from yiwang.intake.domain.records import NewCase, SealedReporter


@dataclass(frozen=True, slots=True)
class CaseFilter:
    states: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    channel: str | None = None
    case_ids: tuple[uuid.UUID, ...] = ()
    received_from: datetime | None = None
    received_to: datetime | None = None
    after: tuple[datetime, uuid.UUID] | None = None  # keyset cursor: (received_at, case_id)
    limit: int = 50
    newest_first: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    # Only cases submitted by one of these (a platform reads its own); None: any.
    submitters: tuple[str, ...] | None = None
    case_numbers: tuple[str, ...] = ()
    offset: int = 0  # Open311's pages


TimelineRow = tuple[str, uuid.UUID, TimelineEntry]  # (event id, case id, entry)


class CaseRepository(abc.ABC):
    """Set-based where admission writes: one statement for a whole batch of submissions."""

    @abc.abstractmethod
    async def lock_keys(self, names: Sequence[str]) -> None:
        """Serialise concurrent work on these keys until the transaction ends (one round trip;
        taken in sorted order so two transactions never wait on each other in a cycle)."""

    @abc.abstractmethod
    async def find_idempotent(
        self, keys: Sequence[IdempotencyKey]
    ) -> dict[IdempotencyKey, RecordedKey]:
        """Those of `keys` already used, with the case each opened."""

    @abc.abstractmethod
    async def add_idempotency_keys(
        self, keys: Sequence[tuple[IdempotencyKey, str, uuid.UUID]], *, at: datetime
    ) -> None:
        """(key, request hash, case id) each."""

    @abc.abstractmethod
    async def open_cases_near(
        self, areas: Sequence[tuple[str, tuple[float, float, float, float]]], *, since: datetime
    ) -> list[list[OpenCase]]:
        """For each (category, bounding box): the open cases of that category inside it that
        can take duplicates, received since `since`."""

    async def recorded_and_nearby(
        self,
        *,
        keys: Sequence[IdempotencyKey],
        areas: Sequence[tuple[str, tuple[float, float, float, float]]],
        since: datetime,
    ) -> tuple[dict[IdempotencyKey, RecordedKey], list[list[OpenCase]]]:
        """`find_idempotent` and `open_cases_near` at once (a database: one round trip)."""
        recorded = await self.find_idempotent(keys) if keys else {}
        return recorded, await self.open_cases_near(areas, since=since) if areas else []

    @abc.abstractmethod
    async def add_cases(self, cases: Sequence[NewCase]) -> None: ...

    @abc.abstractmethod
    async def add_reporters(self, reporters: Sequence[SealedReporter]) -> None: ...

    async def add_opened(
        self,
        *,
        cases: Sequence[NewCase] = (),
        reporters: Sequence[SealedReporter] = (),
        keys: Sequence[tuple[IdempotencyKey, str, uuid.UUID]] = (),
        tokens: Sequence[tuple[str, uuid.UUID]] = (),
        at: datetime | None = None,
    ) -> None:
        """The rows of opened cases (PostgreSQL: one round trip for them all); `at` dates
        the keys and tokens."""
        if cases:  # the cases first: the others refer to them
            await self.add_cases(cases)
        if reporters:
            await self.add_reporters(reporters)
        if keys or tokens:
            assert at is not None, "keys and tokens are dated"
            if keys:
                await self.add_idempotency_keys(keys, at=at)
            if tokens:
                await self.add_tokens(tokens, at=at)

    @abc.abstractmethod
    async def count_other_reporters(self, *, master_id: uuid.UUID, added: int, at: datetime) -> int:
        """Count `added` more reporters on a master case; its count now."""

    @abc.abstractmethod
    async def get(self, ref: str) -> CaseView | None:
        """By case id or case number, with the timeline."""

    @abc.abstractmethod
    async def find(self, case_filter: CaseFilter) -> list[CaseView]: ...

    @abc.abstractmethod
    async def apply_states(self, updates: Sequence[StateUpdate]) -> None:
        """Each case takes its update unless its state is newer (see StateUpdate)."""

    @abc.abstractmethod
    async def masters_located(
        self, case_ids: Sequence[uuid.UUID]
    ) -> list[tuple[str, tuple[float, float]]]:
        """(category, point) of each of these cases that can be a master and has a point: where
        admission takes its duplicate-cell locks for submissions near it."""

    @abc.abstractmethod
    async def close_duplicates(
        self, closed: Sequence[tuple[uuid.UUID, datetime]]
    ) -> list[ClosedDuplicate]:
        """For each (master case id, when it closed): close its duplicates still open (state
        duplicate), noting the master's number; the ones closed now. A duplicate already
        closed is left as it is, so a master's close redelivered closes nothing twice."""

    @abc.abstractmethod
    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        """Entries already recorded (the same event id) are left as they are."""

    @abc.abstractmethod
    async def add_tokens(self, tokens: Sequence[tuple[str, uuid.UUID]], *, at: datetime) -> None:
        """(token, case id) each."""

    @abc.abstractmethod
    async def case_for_token(self, token: str) -> str | None: ...
