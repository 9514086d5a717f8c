"""The rules a department reply must pass before it changes anything.

Each check raises its own ReplyRejected subclass; `code` is the stable reason a
department sees (HTTP problem details, audit table), `status` and `field` how HTTP
answers it, and `security` marks the ones that are an attempt to act on someone else's
assignment or without a valid credential.
"""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied, DepartmentRole, ReplyKind
from yiwang.common.states import CaseState, IllegalTransition, check_transition
from yiwang.department_dispatch.domain.model import HUB, WorkOrder, WorkOrderStatus

# 退单 reason codes a department may give; the hub reads them when it re-routes.
RETURN_REASONS: dict[str, str] = {
    "not_our_remit": "the matter is not within this department's powers",
    "wrong_location": "the place is outside this department's area",
    "insufficient_information": "the case lacks what is needed to act",
    "duplicate_case": "the same problem is already being handled under another case",
    "needs_higher_level": "the matter needs a higher command level",
    "other": "another reason, given in the note",
}


class ReplyRejected(Exception):
    """A reply that changes nothing. `code` is the stable reason a department sees (HTTP
    problem details, the audit table); `status` and `field` say how HTTP answers it."""

    code: str = "rejected"
    status: int = 409
    field: str | None = None
    security: bool = False

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidCredential(ReplyRejected):
    code = "invalid_credential"
    status = 401
    field = "authorization"
    security = True


class SignatureRejected(InvalidCredential):
    """A Kafka reply whose signature was refused; `code` says why (yiwang.common.signatures:
    unsigned, bad_timestamp, stale, from_the_future, unknown_key, bad_signature)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.code = reason
        super().__init__(detail)


class NoDepartment(ReplyRejected):
    """A department-staff credential without a department claim (or an unknown one)."""

    code = "no_department"
    status = 403
    field = "authorization"
    security = True


class NotAssignmentHolder(ReplyRejected):
    code = "not_assignment_holder"
    status = 403
    field = "work_order_id"
    security = True


class UnknownCase(ReplyRejected):
    code = "unknown_case"
    status = 404
    field = "case_id"


class UnknownWorkOrder(ReplyRejected):
    code = "unknown_work_order"
    status = 404
    field = "work_order_id"


class DuplicateReply(ReplyRejected):
    code = "duplicate_reply"
    field = "reply_id"


class OutOfOrder(ReplyRejected):
    code = "out_of_order"
    field = "work_order_id"


class WorkOrderClosed(ReplyRejected):
    code = "work_order_closed"
    field = "work_order_id"


class IllegalForState(ReplyRejected):
    code = "illegal_for_case_state"
    field = "kind"


class RulingIsBinding(ReplyRejected):
    """The hub's final ruling (终审) named this department: it may not return the case."""

    code = "ruling_is_binding"
    field = "kind"


class HubMustRule(ReplyRejected):
    """The hub holds a disputed case: it rules (POST /cases/{id}/ruling) or handles it
    itself; returning it would start the arbitration loop again."""

    code = "hub_must_rule"
    field = "kind"


class InvalidReply(ReplyRejected):
    """A field of the reply is missing or wrong; `field` names it."""

    code = "invalid_reply"
    status = 422

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class Sender:
    """Who sent a reply, from a verified credential, never from the reply itself."""

    department: Department | None  # the department it acts for; None: its credential names none
    name: str  # the timeline's actor: a person's audit name, or a department system's code
    audit_name: str  # the audit trail's: person:<username>, department-system:<code>


@dataclass(frozen=True)
class ReplyEffect:
    """What an accepted reply does: the order's next status and the case's, if any."""

    order_status: WorkOrderStatus
    case_state: CaseState | None


def check_reply_content(reply: DepartmentReplied) -> None:
    if reply.kind is ReplyKind.RESOLVE and not reply.result:
        raise InvalidReply("result", "required when resolving (办结) a work order")
    if reply.kind is ReplyKind.RETURN:
        if reply.reason_code is None:
            raise InvalidReply("reason_code", "required when returning (退单) a work order")
        if reply.reason_code not in RETURN_REASONS:
            raise InvalidReply(
                "reason_code",
                f"'{reply.reason_code}' is not one of {', '.join(RETURN_REASONS)}",
            )
    if reply.kind is ReplyKind.REQUEST_ASSISTANCE and not reply.assisting_departments:
        raise InvalidReply("assisting_departments", "name at least one department to assist")


def check_assignment_holder(order: WorkOrder, *, department: Department) -> None:
    if order.department != department:
        raise NotAssignmentHolder(
            f"work order {order.work_order_id} is assigned to {order.department}, "
            f"not to {department}"
        )


def check_work_order_step(order: WorkOrder, kind: ReplyKind) -> WorkOrderStatus:
    """The order's status after this reply; raises if the reply does not fit where it is."""
    if not order.is_open:
        raise WorkOrderClosed(f"work order {order.work_order_id} is {order.status}")
    if kind is ReplyKind.ACKNOWLEDGE:
        if order.status is not WorkOrderStatus.ISSUED:
            raise OutOfOrder(f"work order {order.work_order_id} is already {order.status}")
        return WorkOrderStatus.ACKNOWLEDGED
    if kind is ReplyKind.RETURN:
        return WorkOrderStatus.RETURNED
    if order.status is WorkOrderStatus.ISSUED:
        raise OutOfOrder(f"{kind} before acknowledge: sign for work order first (签收)")
    if kind is ReplyKind.PROGRESS:
        return WorkOrderStatus.IN_PROGRESS
    if kind is ReplyKind.RESOLVE:
        return WorkOrderStatus.RESOLVED
    return order.status  # request_assistance leaves the order where it is


def check_return_allowed(order: WorkOrder, kind: ReplyKind, *, triage: bool) -> None:
    """No return (退单) of an order a ruling bound, nor of the hub's own triage or
    arbitration order (`triage`: the case's routing decision sent it to the hub) or of
    its re-handling (the second, the hub's: its handling stands)."""
    if kind is not ReplyKind.RETURN:
        return
    if order.ruling_id is not None:
        raise RulingIsBinding(
            f"work order {order.work_order_id} follows the hub's ruling {order.ruling_id}; "
            f"{order.department} handles the case and may not return it"
        )
    hub_lead = (
        order.department is HUB and order.role is DepartmentRole.LEAD and order.whistle_id is None
    )
    if hub_lead and (triage or order.rehandling >= 2):
        raise HubMustRule(
            f"the hub holds case {order.case_id}: rule on it (POST /cases/{order.case_id}/ruling)"
            " or handle it, do not return it"
        )


LEAD_TARGETS: dict[ReplyKind, CaseState] = {
    ReplyKind.ACKNOWLEDGE: CaseState.ACKNOWLEDGED,
    ReplyKind.PROGRESS: CaseState.IN_PROGRESS,
    ReplyKind.RESOLVE: CaseState.RESOLVED,
    ReplyKind.RETURN: CaseState.RETURNED,
}


def check_case_step(
    order: WorkOrder, kind: ReplyKind, *, case_id: str, current: CaseState
) -> CaseState | None:
    """The case's next state: only the lead moves the case (joint handling: 首接负责)."""
    if order.role is not DepartmentRole.LEAD or order.whistle_id is not None:
        return None
    target = LEAD_TARGETS.get(kind)
    if target is None:
        return None
    try:
        check_transition(case_id=case_id, current=current, target=target)
    except IllegalTransition as exc:
        raise IllegalForState(str(exc)) from None
    return target


def check_reply(
    reply: DepartmentReplied,
    order: WorkOrder,
    *,
    department: Department,
    case_state: CaseState,
    triage: bool = False,
) -> ReplyEffect:
    """All the rules in order: who holds the order, content, the order's step, whether it
    may be returned, and the case's step. `triage`: the case is at the hub's triage."""
    check_assignment_holder(order, department=department)
    check_reply_content(reply)
    status = check_work_order_step(order, reply.kind)
    check_return_allowed(order, reply.kind, triage=triage)
    target = check_case_step(order, reply.kind, case_id=reply.case_id, current=case_state)
    return ReplyEffect(order_status=status, case_state=target)
