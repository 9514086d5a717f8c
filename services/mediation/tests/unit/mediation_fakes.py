"""In-memory fakes that subclass the real interfaces (repositories and unit of work)."""

from __future__ import annotations

import copy
from datetime import datetime

from yiwang.common.auth import Actor, Role
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.mediation.adapters.repository import (
    DueTimer,
    HistoryEntry,
    MediationRepository,
    RosterRepository,
    Session,
)
from yiwang.mediation.adapters.unit_of_work import MediationUnitOfWork
from yiwang.mediation.domain.ladder import Committee
from yiwang.mediation.domain.parties import Party
from yiwang.mediation.domain.roster import Mediator
from yiwang.mediation.domain.transitions import Step
from yiwang.mediation.domain.workflow import OPEN, MediationCase, MediationStatus


def person(name: str, *roles: Role, committee: str | None = None) -> Actor:
    """A person as the identity provider's token would make them."""
    return Actor(
        id=f"u-{name}", name=name, roles=frozenset(roles), person=True, committee=committee
    )


HUB = person("hub_operator", Role.HUB_OPERATOR)
ACTORS = {
    a.name: a
    for a in (
        HUB,
        person("auditor", Role.AUDITOR),
        person("administrator", Role.ADMINISTRATOR),
        person("hotline_operator", Role.HOTLINE_OPERATOR),
        person("mediator_140302", Role.MEDIATOR, committee="140302"),
        person("mediator_140302001", Role.MEDIATOR, committee="140302001"),
        person("mediator_140302002", Role.MEDIATOR, committee="140302002"),
        person("mediator_none", Role.MEDIATOR),
    )
}


class FakeMediationRepository(MediationRepository):
    def __init__(self) -> None:
        self.cases: dict[str, MediationCase] = {}
        self.steps: dict[str, list[HistoryEntry]] = {}
        self.party_rows: dict[str, Party] = {}
        self.session_rows: list[Session] = []
        self.timers: list[dict[str, object]] = []

    async def get(self, mediation_id: str, *, lock: bool = False) -> MediationCase | None:
        return copy.deepcopy(self.cases.get(mediation_id))

    async def open_for_case(self, case_id: str) -> MediationCase | None:
        found = [c for c in self.cases.values() if c.case_id == case_id and c.status in OPEN]
        return copy.deepcopy(found[0]) if found else None

    async def add(self, case: MediationCase) -> bool:
        if await self.open_for_case(case.case_id):
            return False
        self.cases[case.mediation_id] = copy.deepcopy(case)
        return True

    async def save(self, case: MediationCase) -> None:
        self.cases[case.mediation_id] = copy.deepcopy(case)

    async def search(
        self,
        *,
        status: MediationStatus | None,
        case_id: str | None,
        area: str | None,
        limit: int,
    ) -> list[MediationCase]:
        return [
            copy.deepcopy(c)
            for c in self.cases.values()
            if (status is None or c.status is status)
            and (case_id in (None, c.case_id))
            and c.committee.area_code.startswith(area or "")
        ][:limit]

    async def add_step(self, mediation_id: str, step: Step, *, at: datetime, actor: str) -> None:
        self.steps.setdefault(mediation_id, []).append(HistoryEntry(at=at, step=step, actor=actor))

    async def history(self, mediation_id: str) -> list[HistoryEntry]:
        return list(self.steps.get(mediation_id, []))

    async def save_party(self, party: Party) -> None:
        self.party_rows[party.party_id] = copy.deepcopy(party)

    async def get_party(self, mediation_id: str, party_id: str) -> Party | None:
        party = self.party_rows.get(party_id)
        return copy.deepcopy(party) if party and party.mediation_id == mediation_id else None

    async def parties(self, mediation_id: str) -> list[Party]:
        return [
            copy.deepcopy(p) for p in self.party_rows.values() if p.mediation_id == mediation_id
        ]

    async def add_session(self, session: Session) -> None:
        self.session_rows.append(session)

    async def sessions(self, mediation_id: str) -> list[Session]:
        return [s for s in self.session_rows if s.mediation_id == mediation_id]

    async def add_timer(
        self, mediation_id: str, *, kind: str, round: int, due_at: datetime
    ) -> None:
        self.timers.append(
            {
                "timer_id": len(self.timers) + 1,
                "mediation_id": mediation_id,
                "kind": kind,
                "round": round,
                "due_at": due_at,
                "fired": False,
            }
        )

    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        due = [t for t in self.timers if not t["fired"] and t["due_at"] <= now]  # type: ignore[operator]
        return [
            DueTimer(**{k: v for k, v in t.items() if k != "fired"})  # type: ignore[arg-type]
            for t in due[:limit]
        ]

    async def mark_fired(self, timer_id: int, *, now: datetime, outcome: str) -> None:
        self.timers[timer_id - 1]["fired"] = True
        self.timers[timer_id - 1]["outcome"] = outcome


class FakeRosterRepository(RosterRepository):
    def __init__(self, mediators: list[Mediator] | None = None) -> None:
        self.mediators = {m.mediator_id: copy.deepcopy(m) for m in mediators or []}

    async def get(self, mediator_id: str, *, lock: bool = False) -> Mediator | None:
        return copy.deepcopy(self.mediators.get(mediator_id))

    async def add(self, mediator: Mediator) -> bool:
        if mediator.mediator_id in self.mediators:
            return False
        self.mediators[mediator.mediator_id] = copy.deepcopy(mediator)
        return True

    async def save(self, mediator: Mediator) -> None:
        self.mediators[mediator.mediator_id] = copy.deepcopy(mediator)

    async def serving(self, committee: Committee) -> list[Mediator]:
        return [copy.deepcopy(m) for m in self.mediators.values() if m.serves(committee)]

    async def adjust_load(self, mediator_id: str, delta: int) -> None:
        self.mediators[mediator_id].load = max(self.mediators[mediator_id].load + delta, 0)

    async def listing(self, *, level: str | None, limit: int) -> list[Mediator]:
        return [m for m in self.mediators.values() if level in (None, m.level)][:limit]

    async def count(self) -> int:
        return len(self.mediators)


class FakeMediationUnitOfWork(InMemoryUnitOfWork, MediationUnitOfWork):
    """A failed block restores the repositories' state before it, as a rollback would."""

    def __init__(self, roster: list[Mediator] | None = None) -> None:
        self.repository = FakeMediationRepository()
        self.roster_repository = FakeRosterRepository(roster)
        super().__init__(rolls_back=[self.repository, self.roster_repository])

    @property
    def mediations(self) -> MediationRepository:
        return self.repository

    @property
    def roster(self) -> RosterRepository:
        return self.roster_repository
