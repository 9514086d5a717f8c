"""The repositories handlers use (mediation cases, parties, sessions, timers; the roster),
and the records they return. The unit of work that holds them is in unit_of_work.py."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from yiwang.mediation.domain.ladder import Committee
from yiwang.mediation.domain.parties import Party
from yiwang.mediation.domain.roster import Mediator
from yiwang.mediation.domain.transitions import Step
from yiwang.mediation.domain.workflow import MediationCase, MediationStatus


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    mediation_id: str
    level: str
    mediator_id: str
    scheduled_at: datetime
    place: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    step: Step
    actor: str  # who took the step: "person:<username>", or "mediation" (its timers)


@dataclass(frozen=True, slots=True)
class DueTimer:
    timer_id: int
    mediation_id: str
    kind: str  # "level_expiry" or "follow_up"
    round: int
    due_at: datetime


class MediationRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, mediation_id: str, *, lock: bool = False) -> MediationCase | None: ...

    @abc.abstractmethod
    async def open_for_case(self, case_id: str) -> MediationCase | None: ...

    @abc.abstractmethod
    async def add(self, case: MediationCase) -> bool:
        """False if the governance case already has an open mediation."""

    @abc.abstractmethod
    async def save(self, case: MediationCase) -> None: ...

    @abc.abstractmethod
    async def search(
        self,
        *,
        status: MediationStatus | None,
        case_id: str | None,
        area: str | None,
        limit: int,
    ) -> list[MediationCase]:
        """Newest first; `area`: only committees whose area code starts with it."""

    @abc.abstractmethod
    async def add_step(
        self, mediation_id: str, step: Step, *, at: datetime, actor: str
    ) -> None: ...

    @abc.abstractmethod
    async def history(self, mediation_id: str) -> list[HistoryEntry]: ...

    @abc.abstractmethod
    async def save_party(self, party: Party) -> None: ...

    @abc.abstractmethod
    async def get_party(self, mediation_id: str, party_id: str) -> Party | None: ...

    @abc.abstractmethod
    async def parties(self, mediation_id: str) -> list[Party]: ...

    @abc.abstractmethod
    async def add_session(self, session: Session) -> None: ...

    @abc.abstractmethod
    async def sessions(self, mediation_id: str) -> list[Session]: ...

    @abc.abstractmethod
    async def add_timer(
        self, mediation_id: str, *, kind: str, round: int, due_at: datetime
    ) -> None:
        """A durable timer; it fires once, and is ignored if the case left that round."""

    @abc.abstractmethod
    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        """Unfired timers due by `now`, locked; other sweepers skip them."""

    @abc.abstractmethod
    async def mark_fired(self, timer_id: int, *, now: datetime, outcome: str) -> None: ...


class RosterRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, mediator_id: str, *, lock: bool = False) -> Mediator | None: ...

    @abc.abstractmethod
    async def add(self, mediator: Mediator) -> bool:
        """False if the id is taken."""

    @abc.abstractmethod
    async def save(self, mediator: Mediator) -> None: ...

    @abc.abstractmethod
    async def serving(self, committee: Committee) -> list[Mediator]:
        """Active mediators of the committee's rung whose area covers it, locked."""

    @abc.abstractmethod
    async def adjust_load(self, mediator_id: str, delta: int) -> None: ...

    @abc.abstractmethod
    async def listing(self, *, level: str | None, limit: int) -> list[Mediator]: ...

    @abc.abstractmethod
    async def count(self) -> int: ...
