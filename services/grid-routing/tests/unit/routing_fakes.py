"""In-memory fakes that subclass the real interfaces, and the events routing consumes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import shapely
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseLeftMediation, CaseReceived, CaseReturned, MediationOutcome
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision, RoutedCaseRepository
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.routed_case import RoutedCase

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeRoutedCases(RoutedCaseRepository):
    def __init__(self) -> None:
        self.cases: dict[str, RoutedCase] = {}
        self.decisions: list[tuple[str, RecordedDecision]] = []
        self.saves: list[list[str]] = []  # the case ids of each save_many call

    async def get(self, case_id: str) -> RoutedCase | None:
        return self.cases.get(case_id)

    async def get_many(self, case_ids: Sequence[str]) -> dict[str, RoutedCase]:
        return {c: self.cases[c] for c in case_ids if c in self.cases}

    async def save_many(self, cases: Sequence[RoutedCase]) -> None:
        ids = [case.case_id for case in cases]
        assert len(set(ids)) == len(ids), "Postgres refuses one row twice in an upsert"
        self.saves.append(ids)
        self.cases.update(zip(ids, cases, strict=True))

    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        self.decisions += decisions


class FakeUnitOfWork(InMemoryUnitOfWork, RoutingUnitOfWork):
    """A failure throws the transaction's writes away, as a rollback would."""

    def __init__(self, cases: FakeRoutedCases | None = None) -> None:
        self.cases = cases or FakeRoutedCases()
        super().__init__(rolls_back=[self.cases])


def received(
    index: GridIndex, category: str = "gas-leak", *, case_id: str = "case-7", position: int = 4
) -> Envelope[CaseReceived]:
    """A receipt with its point inside the micro-grid at `position` of the index."""
    point = shapely.point_on_surface(index.polygons[position])
    facts = CaseFacts(
        case_id=case_id,
        case_number=f"YQ-20260302-{case_id}",
        category=category,
        title="闻到燃气味",
        description="楼道有燃气味",
        channel=Channel.HOTLINE,
        location=Location(lon=point.x, lat=point.y),
    )
    return Envelope(
        payload=CaseReceived(case_id=case_id, case=facts, received_at=NOW), source="/yiwang/intake"
    )


def returned(department: Department, count: int) -> Envelope[CaseReturned]:
    return Envelope(
        payload=CaseReturned(
            case_id="case-7",
            department=department,
            reason_code="not-ours",
            reason="不属于本部门职责",
            return_count=count,
        ),
        source="/yiwang/department-dispatch",
    )


def left_mediation(
    outcome: MediationOutcome = MediationOutcome.DECLINED, *, case_id: str = "case-7"
) -> Envelope[CaseLeftMediation]:
    return Envelope(
        payload=CaseLeftMediation(
            case_id=case_id,
            mediation_id="med-1",
            outcome=outcome,
            reason="mediation declined at grid:140302001002001",
        ),
        source="/yiwang/mediation",
    )
