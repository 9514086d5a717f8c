"""Fakes for intake's unit tests: they subclass the real interfaces."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import SubmitCase
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.intake.adapters.case_numbers import CaseNumberIssuer
from yiwang.intake.adapters.personal_data import PersonalDataRepository, SealedRow
from yiwang.intake.adapters.repository import CaseFilter, CaseRepository, TimelineRow
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.admission import IdempotencyKey
from yiwang.intake.domain.batch import RecordedKey, SubmissionRequest
from yiwang.intake.domain.case import NOT_OPEN, CaseView, OpenCase, TimelineEntry
from yiwang.intake.domain.lifecycle import ClosedDuplicate, StateUpdate, closed_with_master_note
from yiwang.intake.domain.personal_data import AccessRecord, ReporterSeal
from yiwang.intake.domain.records import NewCase, SealedReporter


def platform_request(
    envelope: Envelope[SubmitCase], *, refusal: Exception | None = None
) -> SubmissionRequest:
    """A platform's record whose signature held (or was refused with `refusal`), at a
    position of its own: the same envelope again is a redelivery."""
    source = envelope.payload.source
    return SubmissionRequest(
        envelope.payload,
        idempotency=IdempotencyKey(f"source:{source.system}", source.external_id),
        record=envelope,
        submitted_by=source.system,
        actor=f"platform:{source.system}",
        refusal=refusal,  # type: ignore[arg-type]
        position=f"test:0:{envelope.id}",
    )


class FakeCaseRepository(CaseRepository):
    def __init__(self) -> None:
        self.cases: dict[uuid.UUID, NewCase] = {}
        self.reporters: list[SealedReporter] = []
        self.keys: dict[IdempotencyKey, tuple[uuid.UUID, str]] = {}
        self.counts: dict[uuid.UUID, int] = {}
        self.timeline: dict[str, tuple[uuid.UUID, TimelineEntry]] = {}
        self.tokens: dict[str, uuid.UUID] = {}
        self.notes: dict[uuid.UUID, str | None] = {}  # status notes the lifecycle set
        self.locks: list[list[str]] = []  # the names of each lock_keys call
        self.calls: list[str] = []  # one per statement a Postgres repository would send

    def _call(self, name: str) -> None:
        self.calls.append(name)

    async def lock_keys(self, names: Sequence[str]) -> None:
        self._call("lock_keys")
        self.locks.append(list(names))

    async def find_idempotent(
        self, keys: Sequence[IdempotencyKey]
    ) -> dict[IdempotencyKey, RecordedKey]:
        self._call("find_idempotent")
        found = {}
        for key in keys:
            if key in self.keys:
                case_id, request_hash = self.keys[key]
                case = self.cases[case_id]
                master = self.cases.get(case.master_case_id) if case.master_case_id else None
                found[key] = RecordedKey(case_id, case.case_number, request_hash,
                                         master.case_number if master else None)  # fmt: skip
        return found

    async def add_idempotency_keys(
        self, keys: Sequence[tuple[IdempotencyKey, str, uuid.UUID]], *, at: datetime
    ) -> None:
        self._call("add_idempotency_keys")
        for key, request_hash, case_id in keys:
            assert key not in self.keys, "primary key (scope, key)"
            self.keys[key] = (case_id, request_hash)

    async def open_cases_near(
        self, areas: Sequence[tuple[str, tuple[float, float, float, float]]], *, since: datetime
    ) -> list[list[OpenCase]]:
        self._call("open_cases_near")
        return [
            [OpenCase(c.case_id, c.case_number, c.lon, c.lat, c.received_at, self.counts[c.case_id])
             for c in self.cases.values()
             if c.category == category and c.master_case_id is None and c.state not in NOT_OPEN
             and c.lon is not None and c.lat is not None and c.received_at >= since
             and bbox[0] <= c.lon <= bbox[2] and bbox[1] <= c.lat <= bbox[3]]
            for category, bbox in areas
        ]  # fmt: skip

    async def add_cases(self, cases: Sequence[NewCase]) -> None:
        self._call("add_cases")
        for case in cases:
            assert case.case_id not in self.cases
            assert case.case_number not in {c.case_number for c in self.cases.values()}
            self.cases[case.case_id] = case
            self.counts[case.case_id] = case.reporter_count

    async def add_reporters(self, reporters: Sequence[SealedReporter]) -> None:
        self._call("add_reporters")
        assert all(r.case_id in self.cases for r in reporters), "foreign key"
        self.reporters += reporters

    async def count_other_reporters(self, *, master_id: uuid.UUID, added: int, at: datetime) -> int:
        self._call("count_other_reporters")
        self.counts[master_id] += added
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
            status_note=self.notes.get(case.case_id), lead_department=None, lon=case.lon, lat=case.lat, address=case.address,
            admin_code=case.admin_code, media_urls=list(case.media_urls), master_case_id=case.master_case_id,
            master_case_number=master.case_number if master else None,
            reporter_count=self.counts[case.case_id], received_at=case.received_at,
            updated_at=case.received_at, submitted_by=case.submitted_by,
            timeline=[e for cid, e in self.timeline.values() if cid == case.case_id],
        )  # fmt: skip

    async def find(self, case_filter: CaseFilter) -> list[CaseView]:
        views = [await self.get(str(c)) for c in self.cases]
        return [v for v in views if v is not None][: case_filter.limit]

    async def apply_states(self, updates: Sequence[StateUpdate]) -> None:
        self._call("apply_states")
        for update in updates:  # the stored case's own time is not kept here: no guard
            self.cases[update.case_id] = replace(self.cases[update.case_id], state=update.state)
            self.notes[update.case_id] = update.note

    async def masters_located(
        self, case_ids: Sequence[uuid.UUID]
    ) -> list[tuple[str, tuple[float, float]]]:
        self._call("masters_located")
        return [
            (c.category, (c.lon, c.lat))
            for case_id in case_ids
            if (c := self.cases.get(case_id)) is not None
            and c.master_case_id is None and c.lon is not None and c.lat is not None
        ]  # fmt: skip

    async def close_duplicates(
        self, closed: Sequence[tuple[uuid.UUID, datetime]]
    ) -> list[ClosedDuplicate]:
        self._call("close_duplicates")
        done = []
        for master_id, at in closed:
            master = self.cases.get(master_id)
            for case in sorted(self.cases.values(), key=lambda c: c.case_id):
                if master is None or case.master_case_id != master_id or case.state != "duplicate":
                    continue
                self.cases[case.case_id] = replace(case, state="closed")
                self.notes[case.case_id] = closed_with_master_note(master.case_number)
                done.append(ClosedDuplicate(case.case_id, case.case_number, master.case_number,
                                            case.category, case.channel, case.priority,
                                            max(at, case.received_at)))  # fmt: skip
        return done

    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        self._call("add_timeline")
        for event_id, case_id, entry in rows:
            self.timeline.setdefault(event_id, (case_id, entry))

    async def add_tokens(self, tokens: Sequence[tuple[str, uuid.UUID]], *, at: datetime) -> None:
        self._call("add_tokens")
        assert all(case_id in self.cases for _, case_id in tokens), "foreign key"
        self.tokens.update(tokens)

    async def case_for_token(self, token: str) -> str | None:
        case_id = self.tokens.get(token)
        return self.cases[case_id].case_number if case_id else None


class FakeCaseNumberIssuer(CaseNumberIssuer):
    def __init__(self) -> None:
        self.sequences: dict[date, int] = {}

    async def reserve(self, day: date, count: int) -> range:
        last = self.sequences.get(day, 0) + count
        self.sequences[day] = last
        return range(last - count + 1, last + 1)


class FakePersonalData(PersonalDataRepository):
    def __init__(self, cases: FakeCaseRepository) -> None:
        self.case_store = cases
        self.access: list[AccessRecord] = []
        self.erased: dict[uuid.UUID, datetime] = {}
        self.invitations: dict[uuid.UUID, tuple[bytes, datetime, datetime]] = {}

    async def reporter_of(self, case_id: uuid.UUID) -> ReporterSeal | None:
        found = [r for r in self.case_store.reporters if r.case_id == case_id]
        if not found:
            return None
        r = found[0]
        erased = self.erased.get(case_id)
        return ReporterSeal(r.reporter_id, r.anonymous, None if erased else r.name_masked,
                            None if erased else r.phone_sealed, erased)  # fmt: skip

    async def record_access(self, records: Sequence[AccessRecord]) -> None:
        self.access += records

    async def accesses(self, case_id: uuid.UUID) -> list[AccessRecord]:
        return [a for a in self.access if a.case_id == case_id]

    async def erase(self, case_ids: Sequence[uuid.UUID], *, at: datetime) -> list[uuid.UUID]:
        fresh = [c for c in case_ids if c not in self.erased]
        self.erased.update(dict.fromkeys(fresh, at))
        return fresh

    async def ended_before(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
        return [
            c.case_id for c in self.case_store.cases.values()
            if c.state in ("closed", "rejected") and c.received_at < cutoff
            and c.case_id not in self.erased
        ][:limit]  # fmt: skip

    async def store_invitation(
        self, case_id: uuid.UUID, token_sealed: bytes, *, expires_at: datetime, at: datetime
    ) -> bool:
        if case_id not in self.case_store.cases:
            return False
        self.invitations[case_id] = (token_sealed, expires_at, at)
        return True

    async def invitation(self, case_id: uuid.UUID) -> tuple[bytes, datetime] | None:
        found = self.invitations.get(case_id)
        return (found[0], found[1]) if found else None

    async def sealed(self, table: str, *, after: uuid.UUID | None, limit: int) -> list[SealedRow]:
        raise NotImplementedError

    async def reseal(self, table: str, rows: Sequence[SealedRow]) -> None:
        raise NotImplementedError


class FakeIntakeUnitOfWork(InMemoryUnitOfWork, IntakeUnitOfWork):
    def __init__(self, cases: FakeCaseRepository | None = None) -> None:
        self.cases = cases or FakeCaseRepository()
        self.personal_data = FakePersonalData(self.cases)
        super().__init__(rolls_back=[self.cases])  # a failed block leaves nothing written
