from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatch_fakes import FakeDispatchUnitOfWork
from test_dispatch_domain import CIVIL, HOUSING, routed
from yiwang.common.clock import ManualClock
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseReturned,
    CaseStateChanged,
    CommandLevel,
    DepartmentReplied,
    MicroGridRef,
    OversightAlertRaised,
    WhistleAttendanceRecorded,
    WorkOrderCancelled,
    WorkOrderIssued,
)
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.domain.replies import Sender

clock = ManualClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
GRID = MicroGridRef(
    code="MG",
    name="m",
    grid_code="G",
    community_code="C",
    township_code="140302001",
    county_code="140302",
)


async def dispatched(uow: FakeDispatchUnitOfWork, **kwargs: object) -> None:
    envelope = Envelope(payload=routed(micro_grid=GRID, **kwargs), source="/t")
    await handlers.dispatch_routed_case(uow=uow, envelope=envelope, clock=clock)


def order_of(uow: FakeDispatchUnitOfWork, department: str, status: str = "issued") -> str:
    return next(
        o.work_order_id
        for o in uow.repository.orders.values()
        if o.department == department and o.status == status
    )


async def send(
    uow: FakeDispatchUnitOfWork, department: str, kind: str, **fields: object
) -> handlers.ReplyOutcome:
    reply = DepartmentReplied.model_validate(
        {
            "case_id": "c1",
            "work_order_id": fields.pop("work_order_id"),
            "reply_id": f"r{len(uow.repository.replies)}-{kind}",
            "kind": kind,
            **fields,
        }
    )
    return await handlers.take_department_reply(
        uow=uow,
        reply=reply,
        sender=system(department),
        channel="http",
        clock=clock,
    )


def system(department: str) -> Sender:
    """A department's system, as its API key makes it."""
    return Sender(Department(department), department, f"department-system:{department}")


async def test_a_routed_case_is_dispatched_once_however_often_it_comes() -> None:
    uow = FakeDispatchUnitOfWork()
    envelope = Envelope(payload=routed(micro_grid=GRID), source="/t")
    for _ in range(2):
        await handlers.dispatch_routed_case(uow=uow, envelope=envelope, clock=clock)
    await dispatched(uow)  # the same decision under a new event id
    assert len(uow.committed_of(WorkOrderIssued)) == 2
    assert [e.to_state for e in uow.committed_of(CaseStateChanged)] == ["dispatched"]  # type: ignore[attr-defined]


async def test_a_poll_of_decisions_is_dispatched_in_one_transaction() -> None:
    """Cases in any order, one of them twice, a re-route after its first decision, and a
    dispute for mediation: each case's decisions in their order, each event once."""
    uow = FakeDispatchUnitOfWork()

    def decision(case_id: str, **kwargs: object) -> Envelope[Any]:
        return Envelope(payload=routed(case_id=case_id, micro_grid=GRID, **kwargs), source="/t")

    first_c2, rerouted_c2 = decision("c2"), decision("c2", attempt=2, lead_department=HOUSING)
    c1 = decision("c1")
    poll = [first_c2, c1, decision("c3", to_mediation=True), c1, rerouted_c2]
    await handlers.dispatch_routed_cases(uow=uow, envelopes=poll, clock=clock)
    leads = {
        (e.case_id, e.department)
        for e in uow.committed_of(WorkOrderIssued)
        if e.role.value == "lead"  # type: ignore[attr-defined]
    }
    assert leads == {("c1", CIVIL), ("c2", CIVIL), ("c2", HOUSING)}
    assert len(uow.committed_of(WorkOrderCancelled)) > 0  # c2's first round withdrawn
    assert {e.case_id for e in uow.committed_of(CaseStateChanged)} == {"c1", "c2"}  # type: ignore[attr-defined]


async def test_mediation_cases_are_left_to_mediation() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow, to_mediation=True)
    assert uow.committed == []


async def test_a_reply_from_a_department_without_the_assignment_is_audited_not_applied() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    outcome = await send(uow, HOUSING, "acknowledge", work_order_id=order_of(uow, CIVIL))
    assert (outcome.applied, outcome.reason) == (False, "not_assignment_holder")
    assert [r.security for r in uow.repository.rejections] == [True]
    assert uow.repository.cases["c1"].state == "dispatched"


async def test_joint_handling_and_return() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    lead, helper = order_of(uow, CIVIL), order_of(uow, HOUSING)
    await send(uow, HOUSING, "acknowledge", work_order_id=helper)
    await send(
        uow, HOUSING, "request_assistance", work_order_id=helper, assisting_departments=["justice"]
    )
    assert uow.repository.cases["c1"].state == "dispatched"
    assert any(o.department == "justice" for o in uow.repository.orders.values())
    outcome = await send(uow, CIVIL, "return", work_order_id=lead, reason_code="not_our_remit")
    assert outcome.case_state == "returned"
    [returned] = uow.committed_of(CaseReturned)
    assert returned.return_count == 1  # type: ignore[attr-defined]
    assert len(uow.committed_of(WorkOrderCancelled)) == 2  # housing and justice stop too


async def test_a_missed_whistle_is_recorded_exactly_once() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow)
    whistle = await handlers.blow_whistle(
        uow=uow,
        case_id="c1",
        township_code="140302001",
        departments=(CIVIL, HOUSING),
        report_within=timedelta(minutes=30),
        reason="联合执法",
        blown_by="person:township_140302001",
        clock=clock,
    )
    summons = next(
        o.work_order_id
        for o in uow.repository.orders.values()
        if o.whistle_id and o.department == HOUSING
    )
    await send(uow, HOUSING, "acknowledge", work_order_id=summons)
    clock.advance(timedelta(minutes=31))
    assert await handlers.record_missed_attendance(uow=uow, clock=clock) == 1
    assert await handlers.record_missed_attendance(uow=uow, clock=clock) == 0
    recorded = {e.department: e.on_time for e in uow.committed_of(WhistleAttendanceRecorded)}  # type: ignore[attr-defined]
    assert recorded == {HOUSING: True, CIVIL: False}
    assert whistle.report_by == clock.now() - timedelta(minutes=1)


async def test_escalation_moves_the_lead_order_up_one_level() -> None:
    uow = FakeDispatchUnitOfWork()
    await dispatched(uow, assisting_departments=())
    alert = OversightAlertRaised(
        case_id="c1",
        alert_id="a1",
        kind=AlertKind.YELLOW_CARD,
        command_level=CommandLevel.TOWNSHIP,
        reason="overdue",
    )
    await handlers.take_oversight_alert(
        uow=uow, envelope=Envelope(payload=alert, source="/t"), clock=clock
    )
    issued = uow.committed_of(WorkOrderIssued)
    assert [e.command_level for e in issued] == ["township", "county"]  # type: ignore[attr-defined]
    assert uow.repository.cases["c1"].state == "escalated"
    warning = alert.model_copy(update={"alert_id": "a2", "kind": AlertKind.WARNING})
    await handlers.take_oversight_alert(
        uow=uow, envelope=Envelope(payload=warning, source="/t"), clock=clock
    )
    assert len(uow.committed_of(WorkOrderIssued)) == 2
