"""Fakes for intake's unit tests: they subclass the real interfaces."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime

from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.repository import CaseFilter, CaseRepository, NewCase, SealedReporter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.case import NOT_OPEN, CaseView, OpenCase, TimelineEntry


class FakeCaseRepository(CaseRepository):
    def __init__(self) -> None:
        self.cases: dict[uuid.UUID, NewCase] = {}
        self.reporters: list[SealedReporter] = []
        self.keys: dict[tuple[str, str], tuple[uuid.UUID, str]] = {}
        self.sequences: dict[date, int] = {}
        self.counts: dict[uuid.UUID, int] = {}
        self.timeline: dict[str, tuple[uuid.UUID, TimelineEntry]] = {}
        self.tokens: dict[str, uuid.UUID] = {}
        self.locks: list[str] = []

    async def lock_keys(self, names: list[str]) -> None:
        self.locks += sorted(names)

    async def find_idempotent(self, *, scope: str, key: str) -> tuple[uuid.UUID, str] | None:
        return self.keys.get((scope, key))

    async def add_idempotency_key(
        self, *, scope: str, key: str, request_hash: str, case_id: uuid.UUID, at: datetime
    ) -> None:
        assert (scope, key) not in self.keys
        self.keys[(scope, key)] = (case_id, request_hash)

    async def open_cases_near(
        self, *, category: str, bbox: tuple[float, float, float, float], since: datetime
    ) -> list[OpenCase]:
        return [
            OpenCase(c.case_id, c.case_number, c.lon, c.lat, c.received_at, self.counts.get(c.case_id, 1))
            for c in self.cases.values()
            if c.category == category and c.master_case_id is None and c.state not in NOT_OPEN
            and c.lon is not None and c.lat is not None and c.received_at >= since
            and bbox[0] <= c.lon <= bbox[2] and bbox[1] <= c.lat <= bbox[3]
        ]  # fmt: skip

    async def add(self, case: NewCase) -> None:
        self.cases[case.case_id] = case

    async def add_reporter(self, reporter: SealedReporter) -> None:
        self.reporters.append(reporter)

    async def count_another_reporter(self, *, master_id: uuid.UUID, at: datetime) -> int:
        self.counts[master_id] = self.counts.get(master_id, 1) + 1
        return self.counts[master_id]

    async def get(self, ref: str) -> CaseView | None:
        case = next(
            (c for c in self.cases.values() if ref in (str(c.case_id), c.case_number)), None
        )
        if case is None:
            return None
        master = self.cases.get(case.master_case_id) if case.master_case_id else None
        return CaseView(
            case_id=case.case_id, case_number=case.case_number, channel=case.channel, category=case.category,
            title=case.title, description=case.description, priority=case.priority, state=case.state,
            status_note=None, lead_department=None, lon=case.lon, lat=case.lat, address=case.address,
            admin_code=case.admin_code, media_urls=list(case.media_urls), master_case_id=case.master_case_id,
            master_case_number=master.case_number if master else None,
            reporter_count=self.counts.get(case.case_id, 1), received_at=case.received_at,
            updated_at=case.received_at,
            timeline=[e for cid, e in self.timeline.values() if cid == case.case_id],
        )  # fmt: skip

    async def find(self, case_filter: CaseFilter) -> list[CaseView]:
        views = [await self.get(str(c)) for c in self.cases]
        return [v for v in views if v is not None][: case_filter.limit]

    async def apply_state(
        self, *, case_id: uuid.UUID, state: str, note: str | None, lead: str | None, at: datetime
    ) -> None:
        self.cases[case_id] = replace(self.cases[case_id], state=state)

    async def add_timeline(
        self, *, event_id: str, case_id: uuid.UUID, entry: TimelineEntry
    ) -> None:
        self.timeline.setdefault(event_id, (case_id, entry))

    async def add_token(self, *, token: str, case_id: uuid.UUID, at: datetime) -> None:
        self.tokens[token] = case_id

    async def case_for_token(self, token: str) -> str | None:
        case_id = self.tokens.get(token)
        return self.cases[case_id].case_number if case_id else None


class FakeCaseNumberIssuer(CaseNumberIssuer):
    def __init__(self) -> None:
        self.sequences: dict[date, int] = {}

    async def next(self, day: date) -> int:
        self.sequences[day] = self.sequences.get(day, 0) + 1
        return self.sequences[day]


class FakeIntakeUnitOfWork(InMemoryUnitOfWork, IntakeUnitOfWork):
    def __init__(self, cases: FakeCaseRepository | None = None) -> None:
        super().__init__()
        self.cases = cases or FakeCaseRepository()
