"""Fakes for oversight's unit tests: they subclass the real interfaces. And the events
a case's story is told with."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from yiwang.common.case import CaseFacts, Channel, Location, Priority
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseEvaluated,
    CaseRouted,
    CaseStateChanged,
    HandlingTier,
    MicroGridRef,
    OversightAlertRaised,
)
from yiwang.common.states import CaseState
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.oversight.adapters.assessments import AssessmentRepository
from yiwang.oversight.adapters.postgres import case_row
from yiwang.oversight.adapters.queries import CaseSearch, LedgerLine, OversightReader
from yiwang.oversight.adapters.repository import DueTimer, FollowUpCall, OversightRepository
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.assessment import TownshipAssessment
from yiwang.oversight.domain.escalation import OversightPolicy, TimerSpec
from yiwang.oversight.domain.invitation import IssuedToken
from yiwang.oversight.domain.kpi import CaseFigures, WhistleCall
from yiwang.oversight.domain.periods import month_end
from yiwang.oversight.domain.projection import CaseProjection, TimelineEntry
from yiwang.oversight.domain.reconciliation import ProjectedCase

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 in Shanghai
POLICY = OversightPolicy()


class FakeRepository(OversightRepository):
    def __init__(self) -> None:
        self.entries: dict[str, TimelineEntry] = {}
        self.cases: dict[str, CaseProjection] = {}
        self.timers: dict[tuple[str, str, str, datetime], TimerSpec] = {}
        self.fired: dict[tuple[str, str, str, datetime], str] = {}
        self.alerts: dict[str, OversightAlertRaised] = {}
        self.evaluations: dict[str, CaseEvaluated] = {}
        self.recorded_by: dict[str, str] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.calls: dict[str, FollowUpCall] = {}

    async def lock_case(self, case_id: str) -> None:
        return None

    async def try_lock_case(self, case_id: str) -> bool:
        return True

    async def add_entry(self, entry: TimelineEntry) -> bool:
        return self.entries.setdefault(entry.entry_id, entry) is entry

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        return [e for e in self.entries.values() if e.case_id == case_id]

    async def save_case(self, case: CaseProjection) -> None:
        self.cases[case.case_id] = case

    async def sync_timers(self, case_id: str, wanted: list[TimerSpec]) -> None:
        keep = set(wanted)
        for key in [
            k
            for k, t in self.timers.items()
            if k[0] == case_id and t not in keep and k not in self.fired
        ]:
            del self.timers[key]
        for timer in wanted:
            self.timers.setdefault(timer.key, timer)

    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        due = [t for k, t in self.timers.items() if k not in self.fired and t.due_at <= now]
        return [DueTimer(hash(t.key), t) for t in sorted(due, key=lambda t: t.due_at)[:limit]]

    async def mark_fired(self, timer_id: int, *, now: datetime, by: str, outcome: str) -> None:
        self.fired |= {k: outcome for k in self.timers if hash(k) == timer_id}

    async def add_alert(
        self, alert: OversightAlertRaised, *, township_code: str | None, raised_at: datetime
    ) -> bool:
        return self.alerts.setdefault(alert.alert_id, alert) is alert

    async def add_evaluation(
        self, evaluation: CaseEvaluated, *, source: str, evaluated_at: datetime, recorded_by: str
    ) -> bool:
        self.recorded_by[evaluation.evaluation_id] = recorded_by
        return self.evaluations.setdefault(evaluation.evaluation_id, evaluation) is evaluation

    async def add_evaluation_token(self, token: IssuedToken) -> bool:
        if any(
            (t.case_id, t.resolved_at) == (token.case_id, token.resolved_at)
            for t in self.tokens.values()
        ):
            return False
        self.tokens[token.token_hash] = token
        return True

    async def evaluation_token(self, case_id: str, token_hash: str) -> IssuedToken | None:
        token = self.tokens.get(token_hash)
        return token if token is not None and token.case_id == case_id else None

    async def use_evaluation_token(
        self, token_hash: str, *, evaluation_id: str, used_at: datetime
    ) -> None:
        self.tokens[token_hash] = replace(self.tokens[token_hash], used_at=used_at)

    async def add_follow_up_call(self, call: FollowUpCall) -> bool:
        self.calls[call.call_id] = call
        return True

    async def record_whistle_call(
        self, *, whistle_id: str, department: str, case_id: str, **facts: Any
    ) -> None:
        return None


class FakeAssessments(AssessmentRepository):
    """Assessments kept in a dict; `served` lists (township, department) pairs that
    handled a case (in any month)."""

    def __init__(self, served: set[tuple[str, str]] | None = None) -> None:
        self.kept: dict[tuple[str, str, date], TownshipAssessment] = {}
        self.served = served or set()

    async def add(self, assessment: TownshipAssessment) -> bool:
        key = (assessment.township_code, assessment.department, assessment.month)
        return self.kept.setdefault(key, assessment) is assessment

    async def handled_in(
        self, *, township_code: str, department: str, start: datetime, end: datetime
    ) -> bool:
        return (township_code, department) in self.served


class FakeReader(OversightReader):
    """The read side over a FakeRepository: cases, timelines, records and searches."""

    def __init__(
        self,
        repository: FakeRepository,
        *,
        figures: list[CaseFigures] | None = None,
        assessments: FakeAssessments | None = None,
    ) -> None:
        self.repository = repository
        self.searches: list[CaseSearch] = []
        self.figures = figures or []
        self.assessed = assessments or FakeAssessments()

    async def case(self, case_id: str, *, now: datetime) -> dict[str, Any] | None:
        case = self.repository.cases.get(case_id)
        return {**case_row(case), "overdue": False} if case else None

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        return await self.repository.timeline(case_id)

    async def case_records(self, table: str, case_id: str) -> list[dict[str, Any]]:
        if table == "follow_up_calls":
            return [vars_of(c) for c in self.repository.calls.values() if c.case_id == case_id]
        return []

    async def search(
        self, search: CaseSearch, *, now: datetime
    ) -> tuple[int, list[dict[str, Any]]]:
        self.searches.append(search)
        scope = search.scope
        rows = [case_row(c) for c in self.repository.cases.values()]
        found = [
            r
            for r in rows
            if (search.township is None or r["township_code"] == search.township)
            and (
                scope.everything
                or (scope.township is not None and r["township_code"] == scope.township)
                or (scope.department is not None and r["lead_department"] == scope.department)
            )
        ]
        return len(found), found[search.offset : search.offset + search.limit]

    async def kpi_inputs(
        self, *, start: datetime, end: datetime
    ) -> tuple[list[CaseFigures], list[WhistleCall]]:
        return list(self.figures), []

    async def ledger(self, *, now: datetime) -> list[LedgerLine]:
        return []

    async def activity(self, *, start: datetime, end: datetime) -> dict[str, Any]:
        return {"received": {}, "transitions": [], "alerts": []}

    async def projected_cases(self, *, start: datetime, end: datetime) -> dict[str, ProjectedCase]:
        return {
            c.case_id: ProjectedCase(
                c.case_id,
                c.state.value if c.state else None,
                any(
                    e.to_state is CaseState.DISPATCHED
                    for e in self.repository.entries.values()
                    if e.case_id == c.case_id
                ),
            )
            for c in self.repository.cases.values()
            if c.started_at is not None and start <= c.started_at < end
        }

    async def assessments(self, *, first: date, last: date) -> list[TownshipAssessment]:
        return [
            a
            for a in self.assessed.kept.values()
            if a.month <= last and month_end(a.month) >= first
        ]


def vars_of(call: FollowUpCall) -> dict[str, Any]:
    return {name: getattr(call, name) for name in FollowUpCall.__dataclass_fields__}


class FakeUnitOfWork(InMemoryUnitOfWork, OversightUnitOfWork):
    def __init__(
        self, repository: FakeRepository, assessments: FakeAssessments | None = None
    ) -> None:
        super().__init__()
        self._repository = repository
        self._assessments = assessments or FakeAssessments()

    @property
    def repository(self) -> FakeRepository:
        return self._repository

    @property
    def assessments(self) -> FakeAssessments:
        return self._assessments


def change(
    case_id: str,
    minutes: float,
    src: CaseState | None,
    dst: CaseState,
    *,
    actor: str = "x",
    department: Department | None = None,
) -> Envelope[CaseStateChanged]:
    return Envelope(
        payload=CaseStateChanged(
            case_id=case_id,
            from_state=src,
            to_state=dst,
            actor=actor,
            at=T0 + timedelta(minutes=minutes),
            department=department,
            category="sanitation",
            channel=Channel.HOTLINE,
            priority=Priority.NORMAL,
        ),
        source="/t",
    )


def routed(
    case_id: str,
    minutes: float,
    lead: Department,
    *,
    received_at: datetime | None = None,
    sla_class: str = "general",
    category: str = "sanitation",
) -> Envelope[CaseRouted]:
    return Envelope(
        payload=CaseRouted(
            case_id=case_id,
            case=CaseFacts(
                case_id=case_id,
                case_number=f"LZ-{case_id}",
                category=category,
                title="垃圾",
                description="垃圾未清运",
                channel=Channel.HOTLINE,
                priority=Priority.NORMAL,
                location=Location(address="东城街道 7 号"),
                received_at=received_at,
            ),
            micro_grid=MicroGridRef(
                code="mg-7",
                name="7",
                grid_code="g-1",
                community_code="c-1",
                township_code="tw-east",
                county_code="cty",
            ),
            lead_department=lead,
            tier=HandlingTier.TOWNSHIP,
            sla_class=sla_class,
            rule_id="r1",
            reason="matrix",
        ),
        source="/t",
        time=T0 + timedelta(minutes=minutes),
    )
