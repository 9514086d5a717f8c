from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.events import CaseRouted, HandlingTier, MediationOutcome, MicroGridRef
from yiwang.common.personal_data import mask_id_number, mask_phone
from yiwang.common.states import CaseState, IllegalTransition
from yiwang.mediation.domain import transitions as t
from yiwang.mediation.domain.ladder import (
    DisputeType,
    MediationLevel,
    NotADispute,
    ReferralVenue,
    committee_for,
    dispute_type_for,
    next_level,
)
from yiwang.mediation.domain.roster import (
    MediatorDoesNotServe,
    NoMediatorAvailable,
    check_mediator_serves,
    choose_mediator,
    synthetic_roster,
)
from yiwang.mediation.domain.workflow import (
    DeadlineNotInFuture,
    FollowUpNotDue,
    MediationClosed,
    MediationStatus,
    NoMediatorAssigned,
    NotAccepted,
    NotPending,
    check_accepted,
    check_agreement,
    check_follow_up,
    check_lifecycle,
    check_pending,
    check_session,
    left_mediation,
    lifecycle_target,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
LIMIT = timedelta(days=30)
GRID = MicroGridRef(
    code="14030200100100101",
    name="m",
    grid_code="140302001001001",
    community_code="140302001001",
    township_code="140302001",
    county_code="140302",
)


def routed(
    category: str = "neighbour-dispute", micro_grid: MicroGridRef | None = GRID
) -> CaseRouted:
    return CaseRouted(
        case_id="c1",
        case=CaseFacts(
            case_id="c1",
            case_number="N1",
            category=category,
            title="t",
            description="d",
            channel=Channel.HOTLINE,
            location=Location(address="somewhere"),
        ),
        micro_grid=micro_grid,
        lead_department=Department.JUSTICE,
        tier=HandlingTier.GRID,
        sla_class="general",
        to_mediation=True,
        rule_id="r",
        reason="r",
    )


def opened(category: str = "neighbour-dispute") -> t.MediationCase:  # type: ignore[name-defined]
    case, _ = t.open_mediation(
        routed(category), mediation_id="med-1", now=NOW, time_limit=LIMIT, county_code="140302"
    )
    return case


def test_dispute_types_come_from_the_dispute_categories() -> None:
    assert dispute_type_for("labour-dispute") is DisputeType.LABOUR
    assert dispute_type_for("medical-dispute") is DisputeType.MEDICAL
    with pytest.raises(NotADispute):
        dispute_type_for("wage-arrears")


def test_committees_follow_the_grid_network_and_trades_at_the_district() -> None:
    kw = {"micro_grid": GRID, "county_code": "140302"}
    community = committee_for(MediationLevel.COMMUNITY, dispute_type=DisputeType.LAND, **kw)  # type: ignore[arg-type]
    assert community.area_code == "140302001001"
    township = committee_for(MediationLevel.TOWNSHIP, dispute_type=DisputeType.LAND, **kw)  # type: ignore[arg-type]
    assert township.area_code == "140302001"
    centre = committee_for(MediationLevel.DISTRICT, dispute_type=DisputeType.LAND, **kw)  # type: ignore[arg-type]
    assert (centre.area_code, centre.trade) == ("140302", None)
    trade = committee_for(MediationLevel.DISTRICT, dispute_type=DisputeType.MEDICAL, **kw)  # type: ignore[arg-type]
    assert trade.trade is DisputeType.MEDICAL
    assert next_level(MediationLevel.DISTRICT) is None


def test_a_dispute_with_no_micro_grid_starts_at_the_district() -> None:
    case, _ = t.open_mediation(
        routed(micro_grid=None),
        mediation_id="med-1",
        now=NOW,
        time_limit=LIMIT,
        county_code="140399",
    )
    assert case.level is MediationLevel.DISTRICT
    assert case.committee.area_code == "140399"


def test_failure_climbs_the_ladder_then_refers() -> None:
    case = opened("labour-dispute")
    seen = [case.level]
    while case.status is MediationStatus.PENDING:
        t.accept(case)
        t.escalate(case, cause="failed", reason="no", now=NOW, time_limit=LIMIT)
        seen.append(case.level)
    assert seen[:4] == list(MediationLevel)
    assert case.committee.trade is DisputeType.LABOUR
    assert case.status is MediationStatus.REFERRED
    assert case.referral_venue is ReferralVenue.ARBITRATION
    assert case.round == 4


def test_forbidden_transitions_are_refused_by_their_checks() -> None:
    case = opened()
    with pytest.raises(NotAccepted):
        check_accepted(case)
    t.accept(case)
    with pytest.raises(NotPending):
        check_pending(case)
    with pytest.raises(NoMediatorAssigned):
        check_session(case, scheduled_at=NOW + LIMIT, now=NOW)
    with pytest.raises(DeadlineNotInFuture):
        check_agreement(case, performance_deadline=NOW, now=NOW)
    t.withdraw(case, reason="settled privately", now=NOW)
    with pytest.raises(MediationClosed):
        check_agreement(case, performance_deadline=NOW + LIMIT, now=NOW)
    with pytest.raises(MediationClosed):
        check_session(case, scheduled_at=NOW + LIMIT, now=NOW)


def test_not_honoured_only_after_the_performance_deadline() -> None:
    case = opened()
    t.accept(case)
    deadline = NOW + timedelta(days=10)
    t.record_agreement(case, t.Agreement("pay", (), deadline, NOW, case.level))
    with pytest.raises(FollowUpNotDue):
        check_follow_up(case, honoured=False, now=NOW)
    check_follow_up(case, honoured=True, now=NOW)
    check_follow_up(case, honoured=False, now=deadline)
    steps = t.not_honoured(case, reopen=True, note=None, now=deadline, time_limit=LIMIT)
    assert [s.step for s in steps] == ["not_honoured", "reopened"]
    assert case.status is MediationStatus.PENDING
    assert case.agreement is None


def test_lifecycle_targets_follow_the_case_state_machine() -> None:
    assert lifecycle_target("opened") is CaseState.IN_MEDIATION
    assert lifecycle_target("agreement") is CaseState.RESOLVED
    assert lifecycle_target("declined") is CaseState.RETURNED
    assert lifecycle_target("withdrawn") is CaseState.RETURNED
    assert lifecycle_target("referred") is CaseState.CLOSED
    assert lifecycle_target("honoured") is CaseState.CLOSED
    assert lifecycle_target("reopened") is CaseState.IN_MEDIATION
    assert lifecycle_target("escalated") is None
    assert lifecycle_target("not_honoured") is None


def test_the_lifecycle_is_checked_step_by_step_from_mediations_view() -> None:
    case, _ = t.open_mediation(
        routed(), mediation_id="m1", now=NOW, time_limit=LIMIT, county_code="140302"
    )
    case.case_state = CaseState.RESOLVED  # an agreement was recorded
    assert check_lifecycle(case, ["not_honoured", "reopened", "withdrawn"]) == [
        None,
        CaseState.IN_MEDIATION,
        CaseState.RETURNED,
    ]
    assert check_lifecycle(case, ["honoured"]) == [CaseState.CLOSED]
    case.case_state = CaseState.EVALUATED  # evaluated by the resident meanwhile
    assert check_lifecycle(case, ["not_honoured", "referred"]) == [None, CaseState.CLOSED]
    case.case_state = CaseState.IN_MEDIATION
    with pytest.raises(IllegalTransition, match="cannot go from 'in_mediation' to 'in_mediation'"):
        check_lifecycle(case, ["reopened"])
    case.case_state = CaseState.CLOSED
    with pytest.raises(IllegalTransition, match="case c1: cannot go from 'closed' to 'closed'"):
        check_lifecycle(case, ["honoured"])


def test_only_a_declined_or_withdrawn_dispute_goes_back_to_routing() -> None:
    case, _ = t.open_mediation(
        routed(), mediation_id="m1", now=NOW, time_limit=LIMIT, county_code="140302"
    )
    declined = left_mediation(case, step="declined")
    assert declined is not None
    assert (declined.case_id, declined.mediation_id, declined.outcome) == (
        "c1",
        "m1",
        MediationOutcome.DECLINED,
    )
    assert declined.reason == f"mediation declined at {case.committee.code}"
    withdrawn = left_mediation(case, step="withdrawn")
    assert withdrawn is not None
    assert withdrawn.outcome is MediationOutcome.WITHDRAWN
    assert left_mediation(case, step="referred") is None


def test_assignment_prefers_specialty_then_lowest_load() -> None:
    roster = synthetic_roster("140302", 2)
    case = opened("land-dispute")
    chosen = choose_mediator(roster, committee=case.committee, dispute_type=DisputeType.LAND)
    assert DisputeType.LAND in chosen.specialties
    assert chosen.area_code == "140302001"
    chosen.load = chosen.capacity
    second = choose_mediator(roster, committee=case.committee, dispute_type=DisputeType.LAND)
    assert second.mediator_id != chosen.mediator_id
    other_township = next(m for m in roster if m.area_code == "140302002")
    with pytest.raises(MediatorDoesNotServe):
        check_mediator_serves(other_township, case.committee)
    with pytest.raises(NoMediatorAvailable):
        choose_mediator([], committee=case.committee, dispute_type=DisputeType.LAND)


def test_masks_hide_the_middle() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("140302199001011234") == "140302********1234"
