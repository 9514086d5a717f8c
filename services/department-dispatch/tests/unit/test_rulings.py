"""The hub's final ruling (终审) and the two return refusals that end the arbitration loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dispatch_fakes import FakeDispatchUnitOfWork
from test_dispatch_domain import CIVIL, HOUSING, HUB, NOW, facts, new_id, order, reply, routed
from test_dispatch_handlers import GRID, clock, send
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseStateChanged,
    DepartmentRole,
    ReplyKind,
    RulingMade,
    WorkOrderCancelled,
    WorkOrderIssued,
)
from yiwang.common.states import CaseState
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.domain import replies, rulings
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    WorkOrderStatus,
    case_deadlines,
)


def hub_case(**kwargs: object) -> DispatchCase:
    decision = routed(triage=True, excluded_departments=(CIVIL,), attempt=3)
    fields: dict[str, object] = {
        "case_id": "c1",
        "state": CaseState.DISPATCHED,
        "attempt": 3,
        "command_level": "county",
        "lead_department": HUB,
        "routed": decision,
        "clock_started_at": NOW,
    }
    fields.update(kwargs)
    return DispatchCase(**fields)  # type: ignore[arg-type]


def test_only_the_hub_rules() -> None:
    rulings.check_ruler(hub_operator=True, department=None, name="person:hub_operator")
    rulings.check_ruler(
        hub_operator=False, department="comprehensive-governance", name="comprehensive-governance"
    )
    with pytest.raises(rulings.NotTheHub) as other:
        rulings.check_ruler(hub_operator=False, department="civil-affairs", name="civil-affairs")
    assert (other.value.status, other.value.field, other.value.code) == (
        403,
        "authorization",
        "not_the_hub",
    )
    with pytest.raises(rulings.NotTheHub):
        rulings.check_ruler(hub_operator=False, department=None, name="township-system:1403")


@pytest.mark.parametrize(
    ("case", "refusal", "status"),
    [
        (None, rulings.RulingCaseUnknown, 404),
        (hub_case(ruling_id="ru-1"), rulings.AlreadyRuled, 409),
        (hub_case(routed=routed()), rulings.CaseNotAtHub, 409),
        (hub_case(state=CaseState.RESOLVED), rulings.CaseNotAtHub, 409),
        (hub_case(state=CaseState.RETURNED), rulings.CaseNotAtHub, 409),
    ],
)
def test_a_ruling_only_while_the_hub_holds_the_case(
    case: DispatchCase | None, refusal: type[rulings.RulingRefused], status: int
) -> None:
    with pytest.raises(refusal) as refused:
        rulings.check_ruling_allowed(case, case_id="c1")
    assert (refused.value.status, refused.value.field) == (status, "case_id")
    assert refused.value.code in {"unknown_case", "already_ruled", "case_not_at_hub"}


def test_a_ruling_names_the_department_with_the_deadline_of_its_escalations() -> None:
    case = hub_case(escalations=1)
    orders = [
        order(work_order_id="w1", status=WorkOrderStatus.RETURNED, round="a1"),
        order(work_order_id="w2", department=HOUSING, status=WorkOrderStatus.RETURNED, round="a2"),
        order(work_order_id="w3", department=HUB, round="a3"),
        order(work_order_id="w4", department=HOUSING, role=DepartmentRole.ASSISTING, round="a3"),
    ]
    plan = rulings.plan_ruling(
        case,
        department=HOUSING,
        reason="属住建职责",
        ruled_by="comprehensive-governance",
        orders=orders,
        now=NOW,
        new_id=new_id,
    )
    assert plan.ruling.returned_by == (CIVIL, HOUSING)
    assert [o.work_order_id for o in plan.cancel] == ["w3"]  # the hub's; the assistant stays
    assert plan.order.ruling_id == plan.ruling.ruling_id
    assert plan.order.deadline == case_deadlines(case.routed, started_at=NOW).at_level(1)
    assert (plan.order.department, plan.order.role) == (HOUSING, DepartmentRole.LEAD)
    assert (case.state, case.lead_department, case.ruling_id) == (
        CaseState.DISPATCHED,
        HOUSING,
        plan.ruling.ruling_id,
    )
    assert plan.from_state is CaseState.DISPATCHED


def test_a_ruled_order_and_the_hubs_triage_order_cannot_be_returned() -> None:
    back = reply(ReplyKind.RETURN, reason_code="not_our_remit")
    with pytest.raises(replies.RulingIsBinding) as binding:
        replies.check_reply(
            back, order(ruling_id="ru-1"), department=CIVIL, case_state=CaseState.DISPATCHED
        )
    assert (binding.value.code, binding.value.status, binding.value.field) == (
        "ruling_is_binding",
        409,
        "kind",
    )
    hub_order = order(department=HUB)
    with pytest.raises(replies.HubMustRule) as must_rule:
        replies.check_reply(
            back, hub_order, department=HUB, case_state=CaseState.DISPATCHED, triage=True
        )
    assert (must_rule.value.code, must_rule.value.field) == ("hub_must_rule", "kind")
    with pytest.raises(replies.HubMustRule):  # the hub's own re-handling stands too
        replies.check_reply(
            back, order(department=HUB, rehandling=2), department=HUB, case_state="dispatched"
        )
    # The hub leading a case routed to it by the matrix (not triage) may return it, and a
    # ruled department acknowledges as usual.
    effect = replies.check_reply(back, hub_order, department=HUB, case_state="dispatched")
    assert effect.case_state is CaseState.RETURNED
    effect = replies.check_reply(
        reply(ReplyKind.ACKNOWLEDGE),
        order(ruling_id="ru-1"),
        department=CIVIL,
        case_state="dispatched",
    )
    assert effect.case_state is CaseState.ACKNOWLEDGED


async def test_the_hub_rules_and_the_named_department_handles_it() -> None:
    uow = FakeDispatchUnitOfWork()
    decision = routed(
        micro_grid=GRID,
        triage=True,
        attempt=3,
        excluded_departments=(CIVIL, HOUSING),
        case=facts(received_at=NOW),
    )
    await handlers.dispatch_routed_case(
        uow=uow, envelope=Envelope(payload=decision, source="/t"), clock=clock
    )
    hub_order = next(o for o in uow.repository.orders.values() if o.department == HUB)
    refused = await send(
        uow, HUB, "return", work_order_id=hub_order.work_order_id, reason_code="not_our_remit"
    )
    assert refused.reason == "hub_must_rule"
    await send(uow, HUB, "acknowledge", work_order_id=hub_order.work_order_id)

    ruling, work_order_id = await handlers.rule_on_case(
        uow=uow,
        case_id="c1",
        department=CIVIL,
        reason="经审查属民政职责",
        ruled_by="comprehensive-governance",
        clock=clock,
    )
    [made] = uow.committed_of(RulingMade)
    assert (made.department, made.returned_by, made.ruled_by) == (  # type: ignore[attr-defined]
        CIVIL,
        (CIVIL, HOUSING),
        "comprehensive-governance",
    )
    [cancelled] = uow.committed_of(WorkOrderCancelled)
    assert cancelled.work_order_id == hub_order.work_order_id  # type: ignore[attr-defined]
    issued = uow.committed_of(WorkOrderIssued)[-1]
    assert (issued.work_order_id, issued.department, issued.ruling_id) == (  # type: ignore[attr-defined]
        work_order_id,
        CIVIL,
        ruling.ruling_id,
    )
    change = uow.committed_of(CaseStateChanged)[-1]
    assert (change.from_state, change.to_state, change.note, change.department) == (  # type: ignore[attr-defined]
        "acknowledged",
        "dispatched",
        "hub ruling: civil-affairs handles it",
        CIVIL,
    )
    assert uow.repository.rulings[ruling.ruling_id].returned_by == (CIVIL, HOUSING)

    bound = await send(
        uow, CIVIL, "return", work_order_id=work_order_id, reason_code="not_our_remit"
    )
    assert bound.reason == "ruling_is_binding"
    assert uow.repository.rejections[-1].reason == "ruling_is_binding"
    for kind, extra in (("acknowledge", {}), ("resolve", {"result": "已救助"})):
        outcome = await send(uow, CIVIL, kind, work_order_id=work_order_id, **extra)
        assert outcome.applied
    assert uow.repository.cases["c1"].state == "resolved"
    with pytest.raises(rulings.AlreadyRuled):
        await handlers.rule_on_case(
            uow=uow,
            case_id="c1",
            department=HOUSING,
            reason="again",
            ruled_by="comprehensive-governance",
            clock=clock,
        )


async def test_an_escalated_ruled_case_stays_bound() -> None:
    from yiwang.common.events import AlertKind, CommandLevel, OversightAlertRaised

    uow = FakeDispatchUnitOfWork()
    decision = routed(micro_grid=GRID, triage=True, case=facts(received_at=NOW))
    await handlers.dispatch_routed_case(
        uow=uow, envelope=Envelope(payload=decision, source="/t"), clock=clock
    )
    ruling, _ = await handlers.rule_on_case(
        uow=uow,
        case_id="c1",
        department=CIVIL,
        reason="r",
        ruled_by="comprehensive-governance",
        clock=clock,
    )
    card = OversightAlertRaised(
        case_id="c1",
        alert_id="a1",
        kind=AlertKind.YELLOW_CARD,
        command_level=CommandLevel.COUNTY,
        reason="overdue",
    )
    await handlers.take_oversight_alert(
        uow=uow, envelope=Envelope(payload=card, source="/t"), clock=clock
    )
    city = uow.committed_of(WorkOrderIssued)[-1]
    assert (city.command_level, city.ruling_id) == ("city", ruling.ruling_id)  # type: ignore[attr-defined]
    assert city.deadline == case_deadlines(decision, started_at=NOW).at_level(1)  # type: ignore[attr-defined]
    assert NOW + timedelta(days=1) < city.deadline  # type: ignore[attr-defined]
