"""A dispute mediation hands back (declined, withdrawn) is routed to its category's lead
department, never to mediation again, and counts as no department's return."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from prometheus_client import REGISTRY
from routing_fakes import NOW, FakeUnitOfWork, left_mediation, received, returned
from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, CaseStateChanged, HandlingTier, MediationOutcome
from yiwang.common.states import CaseState
from yiwang.grid_routing.domain.errors import CaseNotInMediation, CaseNotRouted
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix
from yiwang.grid_routing.domain.placement import Unplaced
from yiwang.grid_routing.domain.routed_case import RoutedCase
from yiwang.grid_routing.domain.routing import decide_after_mediation
from yiwang.grid_routing.domain.rules import Rule, rule_kind
from yiwang.grid_routing.handlers import routing


def _counted(rule: str, tier: str, trigger: str) -> float:
    labels = {"trigger": trigger, "rule": rule, "tier": tier}
    return REGISTRY.get_sample_value("yiwang_routing_decisions_total", labels) or 0.0


async def _in_mediation(kw: dict[str, Any], index: GridIndex, category: str) -> None:
    await routing.route_received_cases(envelopes=[received(index, category)], **kw)
    [routed] = kw["uow"].committed_of(CaseRouted)
    assert routed.to_mediation


async def test_a_declined_dispute_goes_to_its_lead_department_not_to_mediation(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await _in_mediation(kw, tiny_index, "neighbour-dispute")
    assert uow.cases.cases["case-7"].state is CaseState.IN_MEDIATION
    before = _counted("after-mediation", "township", "mediation")
    envelope = left_mediation(MediationOutcome.DECLINED)

    assert await routing.route_after_mediation(envelope=envelope, **kw)
    assert not await routing.route_after_mediation(envelope=envelope, **kw)  # redelivered

    first, again = uow.committed_of(CaseRouted)
    assert isinstance(again, CaseRouted)
    assert (again.lead_department, again.assisting_departments) == (
        Department.JUSTICE,
        (Department.COMPREHENSIVE_GOVERNANCE,),
    )
    assert (again.to_mediation, again.triage, again.excluded_departments) == (False, False, ())
    assert again.rule_id == "after-mediation/2026.1/neighbour-dispute"
    assert again.tier is HandlingTier.TOWNSHIP  # a grid matter that has left the grid
    assert again.attempt == 2
    assert again.micro_grid == first.micro_grid  # type: ignore[attr-defined]
    assert again.reason.startswith("the mediation committee declined the dispute; ")
    changes = uow.committed_of(CaseStateChanged)
    assert [(c.from_state, c.to_state) for c in changes] == [  # type: ignore[attr-defined]
        (CaseState.RECEIVED, CaseState.ROUTED),
        (CaseState.RETURNED, CaseState.ROUTED),
    ]
    assert changes[-1].department is Department.JUSTICE  # type: ignore[attr-defined]
    assert changes[-1].at == NOW  # type: ignore[attr-defined]
    case = uow.cases.cases["case-7"]
    assert (case.state, case.returns, case.excluded) == (CaseState.ROUTED, 0, ())
    assert [d.trigger for _, d in uow.cases.decisions] == ["received", "mediation"]
    assert _counted("after-mediation", "township", "mediation") == before + 1


async def test_a_withdrawn_dispute_excludes_nobody_and_adds_no_return(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await _in_mediation(kw, tiny_index, "labour-dispute")
    # Say human resources had returned it once before it went (back) to mediation.
    stored = uow.cases.cases["case-7"]
    uow.cases.cases["case-7"] = dataclasses.replace(
        stored, returns=1, excluded=(Department.HUMAN_RESOURCES,)
    )
    await routing.route_after_mediation(envelope=left_mediation(MediationOutcome.WITHDRAWN), **kw)
    routed = uow.committed_of(CaseRouted)[-1]
    assert isinstance(routed, CaseRouted)
    assert routed.lead_department is Department.HUMAN_RESOURCES
    assert routed.excluded_departments == ()
    assert "a party withdrew from mediation" in routed.reason
    assert uow.cases.cases["case-7"].returns == 1
    # The lead returns it now: its return counts with the one before, as any other.
    await routing.reroute_returned_case(envelope=returned(Department.HUMAN_RESOURCES, 1), **kw)
    rerouted = uow.committed_of(CaseRouted)[-1]
    assert isinstance(rerouted, CaseRouted)
    assert rerouted.triage  # the second return in all: the hub arbitrates
    assert uow.cases.cases["case-7"].returns == 2


async def test_only_a_case_in_mediation_can_come_back_from_it(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await routing.route_received_cases(envelopes=[received(tiny_index)], **kw)  # a gas leak
    committed = len(uow.committed)
    with pytest.raises(CaseNotInMediation, match="last left it routed"):
        await routing.route_after_mediation(envelope=left_mediation(), **kw)
    assert len(uow.committed) == committed
    assert len(uow.inbox) == 1  # the receipt's; the refused record left none

    with pytest.raises(CaseNotRouted, match="case-9 was returned"):
        await routing.route_after_mediation(envelope=left_mediation(case_id="case-9"), **kw)


async def test_a_dispute_mediation_handed_back_never_goes_there_again(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await _in_mediation(kw, tiny_index, "neighbour-dispute")
    await routing.route_after_mediation(envelope=left_mediation(), **kw)
    assert uow.cases.cases["case-7"].mediated
    await routing.reroute_returned_case(envelope=returned(Department.JUSTICE, 1), **kw)
    rerouted = uow.committed_of(CaseRouted)[-1]
    assert isinstance(rerouted, CaseRouted)
    assert rerouted.lead_department is Department.COMPREHENSIVE_GOVERNANCE
    assert rerouted.rule_id == "reroute/2026.1/neighbour-dispute"
    assert not rerouted.to_mediation
    assert "so not to mediation again" in rerouted.reason
    assert uow.cases.cases["case-7"].state is CaseState.ROUTED


async def test_a_dispute_comes_back_from_mediation_once(
    uow: FakeUnitOfWork, tiny_index: GridIndex, kw: dict[str, Any]
) -> None:
    await _in_mediation(kw, tiny_index, "property-dispute")
    await routing.route_after_mediation(envelope=left_mediation(), **kw)
    with pytest.raises(CaseNotInMediation):  # sent again under another event id
        await routing.route_after_mediation(envelope=left_mediation(), **kw)
    assert len(uow.committed_of(CaseRouted)) == 2


def test_a_case_that_cannot_be_placed_any_more_goes_to_triage(
    tiny_index: GridIndex, matrix: ResponsibilityMatrix
) -> None:
    facts = received(tiny_index, "neighbour-dispute").payload.case
    decision = decide_after_mediation(
        facts,
        placement=Unplaced(Rule.OUTSIDE_GRID, "outside every micro-grid"),
        matrix=matrix,
        outcome=MediationOutcome.DECLINED,
        attempt=2,
    )
    assert (decision.triage, decision.to_mediation) == (True, False)
    assert decision.rule_id == Rule.OUTSIDE_GRID


def test_the_after_mediation_rule_is_one_bounded_kind() -> None:
    assert rule_kind("after-mediation/2026.1/neighbour-dispute") == "after-mediation"


def test_routing_keeps_a_dispute_sent_to_mediation_as_in_mediation(tiny_index: GridIndex) -> None:
    case = RoutedCase(received=received(tiny_index, "neighbour-dispute").payload)
    assert case.routed(to_mediation=True).state is CaseState.IN_MEDIATION
    with pytest.raises(CaseNotInMediation):
        case.routed().left_mediation()
