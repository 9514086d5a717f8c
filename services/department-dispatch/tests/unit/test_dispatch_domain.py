from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from yiwang.common.case import CaseFacts, Channel, Location, Priority, ReporterRef
from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseRouted,
    CommandLevel,
    DepartmentReplied,
    DepartmentRole,
    HandlingTier,
    ReplyKind,
)
from yiwang.common.sla import Deadlines, deadlines_for, policy_for
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.credentials import (
    Principal,
    SigningSecretRefused,
    StoredSecret,
    ends_on_rotation,
    parse_principal,
)
from yiwang.department_dispatch.domain.model import (
    WorkOrder,
    WorkOrderStatus,
    assignments,
    case_deadlines,
    clock_start,
    escalated_round,
    next_level_up,
    plan_dispatch,
)
from yiwang.department_dispatch.domain.personal_data import reporter_for
from yiwang.department_dispatch.domain.whistles import record_report

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SERIAL = count(1)
CIVIL, HOUSING, HUB = (
    Department.CIVIL_AFFAIRS,
    Department.HOUSING,
    Department.COMPREHENSIVE_GOVERNANCE,
)


def routed(**kwargs: object) -> CaseRouted:
    fields: dict[str, object] = {
        "case_id": "c1",
        "case": CaseFacts(
            case_id="c1",
            case_number="N1",
            category="sanitation",
            title="t",
            description="d",
            channel=Channel.HOTLINE,
            location=Location(address="somewhere"),
        ),
        "micro_grid": None,
        "lead_department": CIVIL,
        "assisting_departments": (HOUSING, CIVIL),
        "tier": HandlingTier.TOWNSHIP,
        "sla_class": "normal",
        "rule_id": "r",
        "reason": "r",
    }
    fields.update(kwargs)
    return CaseRouted.model_validate(fields)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(SERIAL)}"


def order(**kwargs: object) -> WorkOrder:
    fields: dict[str, object] = {
        "work_order_id": "wo1",
        "case_id": "c1",
        "case_number": "N1",
        "department": CIVIL,
        "role": DepartmentRole.LEAD,
        "command_level": CommandLevel.TOWNSHIP,
        "round": "a1",
        "deadline": NOW,
        "issued_at": NOW,
    }
    fields.update(kwargs)
    return WorkOrder(**fields)  # type: ignore[arg-type]


def reply(kind: ReplyKind, **kwargs: object) -> DepartmentReplied:
    return DepartmentReplied.model_validate(
        {"case_id": "c1", "work_order_id": "wo1", "reply_id": "r1", "kind": kind, **kwargs}
    )


def test_lead_and_assisting_without_repeating_the_lead() -> None:
    assert assignments(routed()) == [
        (CIVIL, DepartmentRole.LEAD),
        (HOUSING, DepartmentRole.ASSISTING),
    ]


def deadlines(decision: CaseRouted | None = None, started_at: datetime = NOW) -> Deadlines:
    return case_deadlines(decision or routed(), started_at=started_at)


def test_triage_goes_to_the_county_hub() -> None:
    decision = routed(triage=True)
    plan = plan_dispatch(
        decision, existing=[], deadlines=deadlines(decision), now=NOW, new_id=new_id
    )
    lead = plan.orders[0]
    assert (lead.department, lead.role, lead.command_level) == (
        HUB,
        DepartmentRole.LEAD,
        CommandLevel.COUNTY,
    )


def test_a_second_attempt_cancels_the_first_rounds_open_orders() -> None:
    first = plan_dispatch(routed(), existing=[], deadlines=deadlines(), now=NOW, new_id=new_id)
    second = plan_dispatch(
        routed(attempt=2, lead_department=HOUSING, assisting_departments=()),
        existing=first.orders,
        deadlines=deadlines(),
        now=NOW,
        new_id=new_id,
    )
    assert [o.department for o in second.orders] == [HOUSING]
    assert {o.work_order_id for o in second.cancel} == {o.work_order_id for o in first.orders}


def facts(**kwargs: object) -> CaseFacts:
    fields: dict[str, object] = {
        "case_id": "c1",
        "case_number": "N1",
        "category": "sanitation",
        "title": "t",
        "description": "d",
        "channel": Channel.HOTLINE,
        "location": Location(address="somewhere"),
    }
    fields.update(kwargs)
    return CaseFacts.model_validate(fields)


def test_orders_carry_the_one_sla_policys_deadlines_from_receipt() -> None:
    received = NOW - timedelta(hours=1)
    decision = routed(case=facts(priority=Priority.EMERGENCY, received_at=received))
    start = clock_start(decision, routed_at=NOW)
    assert start == received
    expected = deadlines_for(
        policy_for(
            category="sanitation",
            priority=Priority.EMERGENCY,
            channel=Channel.HOTLINE,
            sla_class="normal",
        ),
        started_at=received,
    )
    plan = plan_dispatch(
        decision, existing=[], deadlines=deadlines(decision, start), now=NOW, new_id=new_id
    )
    for order in plan.orders:
        assert (order.deadline, order.response_due, order.sla_policy) == (
            received + timedelta(hours=2),
            received + timedelta(hours=1),
            "hotline-emergency",
        )
        assert order.deadline == expected.resolution_due
    # The matrix's class raises a normal case; escalations push the deadline out by half
    # the allowed span each.
    urgent = routed(sla_class="emergency")
    again = plan_dispatch(
        urgent, existing=[], deadlines=deadlines(urgent), escalations=2, now=NOW, new_id=new_id
    )
    assert again.orders[0].deadline == NOW + timedelta(hours=4)
    assert again.orders[0].sla_policy == "hotline-emergency"


def test_an_old_decision_without_receipt_starts_the_clock_when_routed() -> None:
    assert clock_start(routed(), routed_at=NOW) == NOW


def test_an_escalated_round_keeps_its_handling() -> None:
    assert escalated_round("a1", CommandLevel.COUNTY) == "a1:county"
    assert escalated_round("a1:county", CommandLevel.CITY) == "a1:city"
    assert escalated_round("h2", CommandLevel.CITY) == "h2:city"
    assert escalated_round("r:ru-1", CommandLevel.COUNTY) == "r:ru-1:county"


def test_only_a_lead_that_calls_back_sees_the_masked_reporter() -> None:
    people = (
        ReporterRef(reporter_id="anon", anonymous=True),
        ReporterRef(reporter_id="r1", name_masked="张*", phone_masked="138****0001"),
    )
    assert reporter_for(CIVIL, DepartmentRole.LEAD, people) == people[1]
    assert reporter_for(CIVIL, DepartmentRole.ASSISTING, people) is None
    assert reporter_for(Department.URBAN_MANAGEMENT, DepartmentRole.LEAD, people) is None
    assert reporter_for(CIVIL, DepartmentRole.LEAD, people, whistle_id="w") is None


def test_escalation_climbs_one_level_or_to_the_alerts_level() -> None:
    assert next_level_up(CommandLevel.TOWNSHIP, at_least=CommandLevel.TOWNSHIP) == "county"
    assert next_level_up(CommandLevel.TOWNSHIP, at_least=CommandLevel.CITY) == "city"
    assert next_level_up(CommandLevel.CITY, at_least=CommandLevel.CITY) is None


def test_an_api_key_belongs_to_a_department_or_a_township() -> None:
    assert parse_principal("civil-affairs") == Principal(department=CIVIL)
    assert parse_principal("township:140302001") == Principal(township_code="140302001")
    assert parse_principal("township:14") is None
    assert parse_principal("nobody") is None


def test_a_rotation_ends_the_previous_secrets_after_the_overlap_never_later() -> None:
    def held(key_id: str, until: datetime | None) -> StoredSecret:
        return StoredSecret(CIVIL, key_id, b"", created_at=NOW, valid_until=until)

    current, overlapping, expired = (
        held("k3", None),
        held("k2", NOW + timedelta(hours=48)),
        held("k1", NOW - timedelta(hours=1)),
    )
    ending = ends_on_rotation([current, overlapping, expired], at=NOW, overlap=timedelta(hours=6))
    assert [(s.key_id, until) for s, until in ending] == [
        ("k3", NOW + timedelta(hours=6)),
        ("k2", NOW + timedelta(hours=6)),
    ]
    long = ends_on_rotation([current, overlapping], at=NOW, overlap=timedelta(hours=72))
    assert [s.key_id for s, _ in long] == ["k3"]  # k2 keeps its earlier end
    assert [s.valid_at(NOW) for s in (current, overlapping, expired)] == [True, True, False]
    with pytest.raises(SigningSecretRefused):
        ends_on_rotation([current], at=NOW, overlap=timedelta(days=31))
    with pytest.raises(SigningSecretRefused):
        ends_on_rotation([current], at=NOW, overlap=timedelta(hours=-1))


def test_the_holder_moves_its_order_and_only_the_lead_moves_the_case() -> None:
    effect = replies.check_reply(
        reply(ReplyKind.ACKNOWLEDGE), order(), department=CIVIL, case_state=CaseState.DISPATCHED
    )
    assert effect == replies.ReplyEffect(WorkOrderStatus.ACKNOWLEDGED, CaseState.ACKNOWLEDGED)
    helper = order(
        department=HOUSING, role=DepartmentRole.ASSISTING, status=WorkOrderStatus.ACKNOWLEDGED
    )
    effect = replies.check_reply(
        reply(ReplyKind.RESOLVE, result="ok"),
        helper,
        department=HOUSING,
        case_state=CaseState.ACKNOWLEDGED,
    )
    assert effect == replies.ReplyEffect(WorkOrderStatus.RESOLVED, None)


@pytest.mark.parametrize(
    ("the_reply", "the_order", "state", "rejection"),
    [
        (
            reply(ReplyKind.ACKNOWLEDGE),
            order(department=HOUSING),
            CaseState.DISPATCHED,
            replies.NotAssignmentHolder,
        ),
        (reply(ReplyKind.PROGRESS), order(), CaseState.DISPATCHED, replies.OutOfOrder),
        (
            reply(ReplyKind.ACKNOWLEDGE),
            order(status=WorkOrderStatus.CANCELLED),
            CaseState.DISPATCHED,
            replies.WorkOrderClosed,
        ),
        (
            reply(ReplyKind.RESOLVE),
            order(status=WorkOrderStatus.ACKNOWLEDGED),
            CaseState.ACKNOWLEDGED,
            replies.InvalidReply,
        ),
        (
            reply(ReplyKind.RETURN, reason_code="bored"),
            order(),
            CaseState.DISPATCHED,
            replies.InvalidReply,
        ),
        (reply(ReplyKind.ACKNOWLEDGE), order(), CaseState.RESOLVED, replies.IllegalForState),
    ],
)
def test_replies_that_do_not_fit_are_rejected_with_their_reason(
    the_reply: DepartmentReplied, the_order: WorkOrder, state: CaseState, rejection: type[Exception]
) -> None:
    with pytest.raises(rejection):
        replies.check_reply(the_reply, the_order, department=CIVIL, case_state=state)


def test_a_report_after_the_deadline_is_late() -> None:
    from yiwang.department_dispatch.domain.model import Attendance, WhistleAttendance

    attendance = WhistleAttendance("w", CIVIL, NOW, "140302001", "c1")
    assert record_report(attendance, at=NOW + timedelta(seconds=1))
    assert attendance.outcome is Attendance.LATE
    assert not record_report(attendance, at=NOW + timedelta(seconds=2))
