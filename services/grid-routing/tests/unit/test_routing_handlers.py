from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from routing_fakes import NOW, FakeUnitOfWork, received, returned
from yiwang.common.case import Location
from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, CaseStateChanged
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_ROUTED
from yiwang.grid_routing.domain.errors import CaseNotRouted
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.handlers import routing


async def test_a_received_case_is_routed_with_its_state_change(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    envelope = received(tiny_index)
    assert await routing.route_received_cases(envelopes=[envelope], **kw) == ["case-7"]
    assert await routing.route_received_cases(envelopes=[envelope], **kw) == []  # redelivered
    [(routed_topic, routed), (lifecycle_topic, changed)] = uow.committed
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
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await routing.route_received_cases(envelopes=[received(tiny_index)], **kw)
    await routing.reroute_returned_case(envelope=returned(Department.EMERGENCY_MANAGEMENT, 1), **kw)
    await routing.reroute_returned_case(envelope=returned(Department.UTILITIES, 2), **kw)
    routed = [e for t, e in uow.committed if isinstance(e, CaseRouted)]
    changes = [e for t, e in uow.committed if isinstance(e, CaseStateChanged)]
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
    uow: FakeUnitOfWork, kw: dict[str, Any]
) -> None:
    with pytest.raises(CaseNotRouted, match="case-7 was returned"):
        await routing.reroute_returned_case(envelope=returned(Department.PETITION, 1), **kw)
    assert uow.inbox == set()
    assert uow.committed == []


async def test_a_case_outside_the_grid_is_routed_to_triage_not_dropped(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    envelope = received(tiny_index)
    facts = envelope.payload.case.model_copy(update={"location": Location(lon=100.0, lat=30.0)})
    payload = envelope.payload.model_copy(update={"case": facts})
    await routing.route_received_cases(
        envelopes=[dataclasses.replace(envelope, payload=payload)], **kw
    )
    routed = uow.committed[0][1]
    assert isinstance(routed, CaseRouted)
    assert routed.triage
    assert routed.rule_id == "triage/outside-grid"
    assert routed.micro_grid is None
