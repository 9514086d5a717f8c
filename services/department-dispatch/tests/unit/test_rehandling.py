"""Re-handling after an unsatisfied evaluation (不满意重办), reminders (催办) and a
department's own listing of its work orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dispatch_fakes import FakeDispatchUnitOfWork
from test_dispatch_domain import CIVIL, HOUSING, HUB, NOW, facts, order, routed
from test_dispatch_handlers import GRID, clock, send
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseReopened,
    CaseStateChanged,
    CommandLevel,
    DepartmentRole,
    OversightAlertRaised,
    WorkOrderIssued,
    WorkOrderReminder,
)
from yiwang.common.states import CaseState
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.domain import queries, rehandling
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    WorkOrderStatus,
    case_deadlines,
)
from yiwang.department_dispatch.domain.reminders import reminders_for

REOPENED_AT = NOW + timedelta(days=10)


def reopened(**kwargs: object) -> CaseReopened:
    fields: dict[str, object] = {
        "case_id": "c1",
        "evaluation_id": "ev-1",
        "department": CIVIL,
        "to_hub": False,
        "rehandling": 1,
        "reopened_at": REOPENED_AT,
        "reason": "resident unsatisfied",
    }
    fields.update(kwargs)
    return CaseReopened.model_validate(fields)


def alert(kind: AlertKind, alert_id: str = "a1") -> OversightAlertRaised:
    return OversightAlertRaised(
        case_id="c1",
        alert_id=alert_id,
        kind=kind,
        command_level=CommandLevel.TOWNSHIP,
        reason="快到期",
    )


async def resolved_case(uow: FakeDispatchUnitOfWork) -> str:
    decision = routed(micro_grid=GRID, assisting_departments=(), case=facts(received_at=NOW))
    await handlers.dispatch_routed_case(
        uow=uow, envelope=Envelope(payload=decision, source="/t"), clock=clock
    )
    lead = next(iter(uow.repository.orders))
    await send(uow, CIVIL, "acknowledge", work_order_id=lead)
    await send(uow, CIVIL, "resolve", work_order_id=lead, result="done")
    return lead


async def reopen(uow: FakeDispatchUnitOfWork, event: CaseReopened) -> None:
    await handlers.rehandle_case(
        uow=uow, envelope=Envelope(payload=event, source="/t"), clock=clock
    )


def a_case(**kwargs: object) -> DispatchCase:
    fields: dict[str, object] = {
        "case_id": "c1",
        "state": CaseState.RESOLVED,
        "attempt": 1,
        "command_level": "township",
        "lead_department": CIVIL,
        "routed": routed(),
        "clock_started_at": NOW,
    }
    fields.update(kwargs)
    return DispatchCase(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        (None, rehandling.ReopenedCaseUnknown),
        (a_case(rehandling=1), rehandling.AlreadyRehandled),
        (a_case(state=CaseState.IN_PROGRESS), rehandling.ReopenedCaseNotResolved),
    ],
)
def test_only_a_resolved_case_is_reopened_once_per_rehandling(
    case: DispatchCase | None, refusal: type[rehandling.ReopenNotApplied]
) -> None:
    with pytest.raises(refusal):
        rehandling.check_reopen(case, reopened())


def test_the_second_rehandling_goes_to_the_hub_at_the_county() -> None:
    case = a_case(escalations=2, command_level="city", rehandling=1, ruling_id="ru-1")
    plan = rehandling.plan_rehandling(
        case,
        reopened(department=None, to_hub=True, rehandling=2),
        orders=[order(status=WorkOrderStatus.RESOLVED)],
        now=REOPENED_AT,
        new_id=lambda p: f"{p}-9",
    )
    assert (plan.order.department, plan.order.command_level, plan.order.round) == (
        HUB,
        "county",
        "h2",
    )
    assert plan.order.ruling_id is None  # the ruling named civil affairs, not the hub
    assert plan.order.deadline == case_deadlines(case.routed, started_at=REOPENED_AT).resolution_due
    assert (case.escalations, case.rehandling, case.clock_started_at) == (0, 2, REOPENED_AT)
    assert plan.cancel == []


def test_a_ruled_department_stays_bound_in_its_rehandling() -> None:
    case = a_case(ruling_id="ru-1")
    plan = rehandling.plan_rehandling(
        case, reopened(), orders=[], now=REOPENED_AT, new_id=lambda p: f"{p}-9"
    )
    assert (plan.order.department, plan.order.ruling_id, plan.order.rehandling) == (
        CIVIL,
        "ru-1",
        1,
    )


async def test_an_unsatisfied_case_is_dispatched_again_with_a_fresh_clock() -> None:
    uow = FakeDispatchUnitOfWork()
    first = await resolved_case(uow)
    event = reopened()
    envelope = Envelope(payload=event, source="/t")
    for _ in range(2):  # redelivered
        await handlers.rehandle_case(uow=uow, envelope=envelope, clock=clock)
    await reopen(uow, event)  # the same reopening under a new event id
    issued = [e for e in uow.committed_of(WorkOrderIssued) if e.work_order_id != first]  # type: ignore[attr-defined]
    [again] = issued
    expected = case_deadlines(routed(), started_at=REOPENED_AT)
    assert (again.department, again.rehandling, again.deadline, again.response_due) == (  # type: ignore[attr-defined]
        CIVIL,
        1,
        expected.resolution_due,
        expected.response_due,
    )
    change = uow.committed_of(CaseStateChanged)[-1]
    assert (change.from_state, change.to_state, change.department) == (  # type: ignore[attr-defined]
        "evaluated",
        "dispatched",
        CIVIL,
    )
    assert change.note == "re-handling after an unsatisfied evaluation (不满意重办)"  # type: ignore[attr-defined]
    case = uow.repository.cases["c1"]
    assert (case.state, case.rehandling, case.clock_started_at) == ("dispatched", 1, REOPENED_AT)
    # The re-handled order is worked like any other.
    outcome = await send(uow, CIVIL, "acknowledge", work_order_id=again.work_order_id)  # type: ignore[attr-defined]
    assert outcome.case_state == "acknowledged"


async def test_a_reopening_of_a_case_dispatch_never_held_changes_nothing() -> None:
    uow = FakeDispatchUnitOfWork()
    await reopen(uow, reopened(case_id="nope"))
    assert uow.committed == []


def test_reminders_go_to_open_lead_orders_only() -> None:
    orders = [
        order(work_order_id="lead", deadline=NOW + timedelta(days=7)),
        order(work_order_id="help", department=HOUSING, role=DepartmentRole.ASSISTING),
        order(work_order_id="old", status=WorkOrderStatus.CANCELLED),
        order(work_order_id="summons", whistle_id="wh-1", role=DepartmentRole.ASSISTING),
    ]
    [reminder] = reminders_for(alert(AlertKind.WARNING), orders)
    assert (reminder.work_order_id, reminder.kind, reminder.deadline, reminder.alert_id) == (
        "lead",
        "warning",
        NOW + timedelta(days=7),
        "a1",
    )
    assert reminders_for(alert(AlertKind.BOUNCED), orders) == []
    assert reminders_for(alert(AlertKind.STRANDED), orders) == []


async def test_a_card_escalates_then_reminds_the_new_holder() -> None:
    uow = FakeDispatchUnitOfWork()
    decision = routed(micro_grid=GRID, assisting_departments=(), case=facts(received_at=NOW))
    await handlers.dispatch_routed_case(
        uow=uow, envelope=Envelope(payload=decision, source="/t"), clock=clock
    )
    for alert_id, kind in (("a1", AlertKind.WARNING), ("a2", AlertKind.YELLOW_CARD)):
        await handlers.take_oversight_alert(
            uow=uow, envelope=Envelope(payload=alert(kind, alert_id), source="/t"), clock=clock
        )
    reminders = uow.committed_of(WorkOrderReminder)
    county = uow.committed_of(WorkOrderIssued)[-1]
    deadlines = case_deadlines(decision, started_at=NOW)
    assert county.deadline == deadlines.at_level(1)  # type: ignore[attr-defined]
    assert [(r.kind, r.work_order_id, r.deadline) for r in reminders] == [  # type: ignore[attr-defined]
        ("warning", uow.committed_of(WorkOrderIssued)[0].work_order_id, deadlines.at_level(0)),  # type: ignore[attr-defined]
        ("yellow_card", county.work_order_id, deadlines.at_level(1)),  # type: ignore[attr-defined]
    ]
    await handlers.take_oversight_alert(
        uow=uow,
        envelope=Envelope(payload=alert(AlertKind.STRANDED, "a3"), source="/t"),
        clock=clock,
    )
    assert len(uow.committed_of(WorkOrderReminder)) == 2


def test_only_a_department_lists_and_within_bounds() -> None:
    with pytest.raises(queries.NotADepartment) as none:
        queries.check_lister(None, name="person:staff_without_claim")
    assert (none.value.status, none.value.field) == (403, "authorization")
    with pytest.raises(queries.NotADepartment):
        queries.check_lister("the-moon", name="person:someone")
    assert queries.check_lister("housing", name="housing") is HOUSING
    with pytest.raises(queries.InvalidQuery) as limit:
        queries.WorkOrderQuery(limit=201)
    assert limit.value.field == "limit"
    with pytest.raises(queries.InvalidQuery):
        queries.WorkOrderQuery(offset=-1)


async def test_a_department_lists_its_own_orders_newest_first() -> None:
    uow = FakeDispatchUnitOfWork()
    await resolved_case(uow)
    clock.advance(timedelta(minutes=1))
    await reopen(uow, reopened())
    page = await handlers.list_work_orders(
        uow=uow, department=CIVIL, query=queries.WorkOrderQuery()
    )
    assert page.total == 2
    assert [o.rehandling for o in page.orders] == [1, 0]
    open_only = await handlers.list_work_orders(
        uow=uow, department=CIVIL, query=queries.WorkOrderQuery(open=True)
    )
    assert [(o.status, o.rehandling) for o in open_only.orders] == [("issued", 1)]
    resolved = await handlers.list_work_orders(
        uow=uow,
        department=CIVIL,
        query=queries.WorkOrderQuery(statuses=frozenset({WorkOrderStatus.RESOLVED}), limit=1),
    )
    assert (resolved.total, resolved.orders[0].case_number) == (1, "N1")
    others = await handlers.list_work_orders(
        uow=uow, department=HOUSING, query=queries.WorkOrderQuery()
    )
    assert others.total == 0
