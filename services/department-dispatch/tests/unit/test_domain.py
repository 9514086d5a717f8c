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
from yiwang.common.states import CaseState
from yiwang.department_dispatch.domain import replies
from yiwang.department_dispatch.domain.credentials import (
    department_secret,
    sign,
    signed_department,
)
from yiwang.department_dispatch.domain.model import (
    WorkOrder,
    WorkOrderStatus,
    assignments,
    deadline_for,
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


def test_triage_goes_to_the_county_hub() -> None:
    plan = plan_dispatch(routed(triage=True), existing=[], now=NOW, new_id=new_id)
    lead = plan.orders[0]
    assert (lead.department, lead.role, lead.command_level) == (
        HUB,
        DepartmentRole.LEAD,
        CommandLevel.COUNTY,
    )


def test_a_second_attempt_cancels_the_first_rounds_open_orders() -> None:
    first = plan_dispatch(routed(), existing=[], now=NOW, new_id=new_id).orders
    second = plan_dispatch(
        routed(attempt=2, lead_department=HOUSING, assisting_departments=()),
        existing=first,
        now=NOW,
        new_id=new_id,
    )
    assert [o.department for o in second.orders] == [HOUSING]
    assert {o.work_order_id for o in second.cancel} == {o.work_order_id for o in first}


def test_deadlines_by_priority() -> None:
    assert deadline_for(Priority.EMERGENCY, issued_at=NOW) == NOW + timedelta(hours=2)
    assert deadline_for(Priority.COMPLEX, issued_at=NOW) == NOW + timedelta(days=15)


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


def test_signatures_bind_the_department_to_the_bytes() -> None:
    value = b'{"kind":"acknowledge"}'
    good = sign(department_secret("k", CIVIL), value)
    assert (
        signed_department(signing_key="k", claimed="civil-affairs", signature=good, value=value)
        == CIVIL
    )
    assert (
        signed_department(signing_key="k", claimed="housing", signature=good, value=value) is None
    )
    assert (
        signed_department(
            signing_key="k", claimed="civil-affairs", signature=good, value=value + b" "
        )
        is None
    )
    assert signed_department(signing_key="k", claimed="nobody", signature=good, value=value) is None


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
