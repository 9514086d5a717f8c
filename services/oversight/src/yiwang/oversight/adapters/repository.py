"""The oversight repository: what handlers write and read inside one unit of work."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yiwang.common.events import CaseEvaluated, OversightAlertRaised
from yiwang.oversight.domain.escalation import TimerSpec
from yiwang.oversight.domain.invitation import IssuedToken
from yiwang.oversight.domain.projection import CaseProjection, TimelineEntry


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: int
    spec: TimerSpec


@dataclass(frozen=True, slots=True)
class FollowUpCall:
    call_id: str
    case_id: str
    called_at: datetime
    operator: str
    reached: bool
    satisfied: bool | None
    note: str | None


class OversightRepository(abc.ABC):
    @abc.abstractmethod
    async def lock_case(self, case_id: str) -> None:
        """Serialise work on one case until the transaction ends."""

    @abc.abstractmethod
    async def try_lock_case(self, case_id: str) -> bool:
        """Like lock_case, without waiting; False if another transaction holds it."""

    @abc.abstractmethod
    async def add_entry(self, entry: TimelineEntry) -> bool:
        """Store a timeline entry; False if an entry with its id is there already."""

    @abc.abstractmethod
    async def timeline(self, case_id: str) -> list[TimelineEntry]: ...

    @abc.abstractmethod
    async def save_case(self, case: CaseProjection) -> None: ...

    @abc.abstractmethod
    async def sync_timers(self, case_id: str, wanted: list[TimerSpec]) -> None:
        """Add the wanted timers not there yet; drop unfired timers no longer wanted."""

    # A poll's worth at once. These defaults go one case at a time; PostgreSQL does each
    # in one statement.

    async def lock_cases(self, case_ids: Sequence[str]) -> None:
        """lock_case for each, in the order given (callers sort, so two never deadlock)."""
        for case_id in case_ids:
            await self.lock_case(case_id)

    async def add_entries(self, entries: Sequence[TimelineEntry]) -> None:
        for entry in entries:
            await self.add_entry(entry)

    async def timelines(self, case_ids: Sequence[str]) -> dict[str, list[TimelineEntry]]:
        return {case_id: await self.timeline(case_id) for case_id in case_ids}

    async def save_cases(self, cases: Sequence[CaseProjection]) -> None:
        for case in cases:
            await self.save_case(case)

    async def sync_timers_of(self, wanted: Mapping[str, list[TimerSpec]]) -> None:
        """sync_timers for each case of `wanted`."""
        for case_id, timers in wanted.items():
            await self.sync_timers(case_id, timers)

    @abc.abstractmethod
    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        """Lock unfired timers due by `now` that no other transaction holds."""

    @abc.abstractmethod
    async def mark_fired(self, timer_id: int, *, now: datetime, by: str, outcome: str) -> None: ...

    @abc.abstractmethod
    async def add_alert(
        self, alert: OversightAlertRaised, *, township_code: str | None, raised_at: datetime
    ) -> bool:
        """Store an alert; False if one with its id was raised before."""

    @abc.abstractmethod
    async def add_evaluation(
        self, evaluation: CaseEvaluated, *, source: str, evaluated_at: datetime, recorded_by: str
    ) -> bool: ...

    @abc.abstractmethod
    async def add_evaluation_token(self, token: IssuedToken) -> bool:
        """Keep a token's hash; False if the case's resolution has one already."""

    @abc.abstractmethod
    async def evaluation_token(self, case_id: str, token_hash: str) -> IssuedToken | None: ...

    @abc.abstractmethod
    async def use_evaluation_token(
        self, token_hash: str, *, evaluation_id: str, used_at: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def add_follow_up_call(self, call: FollowUpCall) -> bool: ...

    @abc.abstractmethod
    async def record_whistle_call(
        self, *, whistle_id: str, department: str, case_id: str, **facts: Any
    ) -> None:
        """Upsert one summoned department's row; facts may arrive in any order."""
