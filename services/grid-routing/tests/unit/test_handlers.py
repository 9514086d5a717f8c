from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import pytest
import shapely
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseReceived, CaseReturned, CaseRouted, CaseStateChanged, Event
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED
from yiwang.grid_routing import handlers
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision, RoutedCaseRepository
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.routed_case import RoutedCase

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeRoutedCases(RoutedCaseRepository):
    def __init__(self) -> None:
        self.cases: dict[str, RoutedCase] = {}
        self.decisions: list[tuple[str, RecordedDecision]] = []

    async def get(self, case_id: str) -> RoutedCase | None:
        return self.cases.get(case_id)

    async def save(self, case: RoutedCase) -> None:
        self.cases[case.case_id] = case

    async def add_decision(self, case_id: str, recorded: RecordedDecision) -> None:
        self.decisions.append((case_id, recorded))


class FakeUnitOfWork(RoutingUnitOfWork):
    """Commits by keeping what was written; a failure throws the transaction's writes away."""

    def __init__(self) -> None:
        self.cases = FakeRoutedCases()
        self.inbox: set[tuple[str, str]] = set()
        self.emitted = []
        self.published: list[tuple[str, Event]] = []

    async def __aenter__(self) -> Self:
        self._saved = (dict(self.cases.cases), list(self.cases.decisions), set(self.inbox))
        self.emitted = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.published += [(topic, env.payload) for topic, env in self.emitted]
        else:
            self.cases.cases, self.cases.decisions, self.inbox = self._saved

    async def first_delivery(self, *, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.inbox:
            return False
        self.inbox.add((consumer, event_id))
        return True

    async def emit(self, payload: Event, *, topic: str) -> Envelope[Event]:
        envelope: Envelope[Event] = Envelope(payload=payload, source="/yiwang/test")
        self.emitted.append((topic, envelope))
        return envelope


def received(index: GridIndex, category: str = "gas-leak") -> Envelope[CaseReceived]:
    point = shapely.point_on_surface(index.polygons[4])
    facts = CaseFacts(
        case_id="case-7",
        case_number="YQ-20260302-0007",
        category=category,
        title="闻到燃气味",
        description="楼道有燃气味",
        channel=Channel.HOTLINE,
        location=Location(lon=point.x, lat=point.y),
    )
    return Envelope(
        payload=CaseReceived(case_id="case-7", case=facts, received_at=NOW), source="/yiwang/intake"
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


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def test_a_received_case_is_routed_with_its_state_change(
    uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    kw: dict[str, Any] = {
        "uow": uow,
        "index": tiny_index,
        "matrix": matrix,
        "clock": ManualClock(NOW),
    }
    envelope = received(tiny_index)
    assert await handlers.route_received_case(envelope=envelope, **kw)
    assert not await handlers.route_received_case(envelope=envelope, **kw)  # redelivered
    [(routed_topic, routed), (lifecycle_topic, changed)] = uow.published
    assert (routed_topic, lifecycle_topic) == (CASE_ROUTED, CASE_LIFECYCLE)
    assert isinstance(routed, CaseRouted)
    assert isinstance(changed, CaseStateChanged)
    assert routed.lead_department is Department.EMERGENCY_MANAGEMENT
    assert routed.micro_grid == tiny_index.micro_grid_refs[4]
    assert routed.department_units == tiny_index.units_of(routed.micro_grid.code)
    assert routed.rule_id == "matrix/2026.1/gas-leak"
    assert routed.attempt == 1
    assert (changed.from_state, changed.to_state) == (CaseState.RECEIVED, CaseState.ROUTED)
    assert changed.department is Department.EMERGENCY_MANAGEMENT
    assert changed.township_code == routed.micro_grid.township_code
    assert changed.micro_grid == routed.micro_grid.code
    assert changed.at == NOW
    assert uow.cases.cases["case-7"].state is CaseState.ROUTED
    assert [d.decision.rule_id for _, d in uow.cases.decisions] == [routed.rule_id]


async def test_return_reroute_then_arbitration_after_the_second_return(
    uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    kw: dict[str, Any] = {
        "uow": uow,
        "index": tiny_index,
        "matrix": matrix,
        "clock": ManualClock(NOW),
    }
    await handlers.route_received_case(envelope=received(tiny_index), **kw)
    await handlers.reroute_returned_case(
        envelope=returned(Department.EMERGENCY_MANAGEMENT, 1), **kw
    )
    await handlers.reroute_returned_case(envelope=returned(Department.UTILITIES, 2), **kw)
    routed = [e for t, e in uow.published if isinstance(e, CaseRouted)]
    changes = [e for t, e in uow.published if isinstance(e, CaseStateChanged)]
    assert [r.lead_department for r in routed] == [
        Department.EMERGENCY_MANAGEMENT,
        Department.UTILITIES,
        Department.COMPREHENSIVE_GOVERNANCE,
    ]
    assert routed[1].excluded_departments == (Department.EMERGENCY_MANAGEMENT,)
    assert routed[1].rule_id == "reroute/2026.1/gas-leak"
    assert not routed[1].triage
    assert routed[2].triage
    assert routed[2].rule_id == "arbitration/second-return"
    assert routed[2].excluded_departments == (Department.EMERGENCY_MANAGEMENT, Department.UTILITIES)
    assert "returned 2 times" in routed[2].reason
    assert [r.attempt for r in routed] == [1, 2, 3]
    assert [(c.from_state, c.to_state) for c in changes] == [
        (CaseState.RECEIVED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
    ]
    assert [d.trigger for _, d in uow.cases.decisions] == ["received", "returned", "returned"]
    assert uow.cases.cases["case-7"].returns == 2


async def test_a_return_for_a_case_never_routed_fails_and_writes_nothing(
    uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    with pytest.raises(handlers.CaseNotRouted, match="case-7 was returned"):
        await handlers.reroute_returned_case(
            uow=uow,
            index=tiny_index,
            matrix=matrix,
            clock=ManualClock(NOW),
            envelope=returned(Department.PETITION, 1),
        )
    assert uow.inbox == set()
    assert uow.published == []


async def test_a_case_outside_the_grid_is_routed_to_triage_not_dropped(
    uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    envelope = received(tiny_index)
    facts = envelope.payload.case.model_copy(update={"location": Location(lon=100.0, lat=30.0)})
    payload = envelope.payload.model_copy(update={"case": facts})
    await handlers.route_received_case(
        uow=uow,
        index=tiny_index,
        matrix=matrix,
        clock=ManualClock(NOW),
        envelope=dataclasses.replace(envelope, payload=payload),
    )
    routed = uow.published[0][1]
    assert isinstance(routed, CaseRouted)
    assert routed.triage
    assert routed.rule_id == "triage/outside-grid"
    assert routed.micro_grid is None
