"""HTTP routes about work orders: a department's own listing, and the county hub's final
ruling (终审). Their refusals are in http.py's REFUSALS (domain/queries.py, domain/rulings.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StringConstraints
from yiwang.common.access import allow
from yiwang.common.auth import Actor, Authenticate, Role
from yiwang.common.clock import Clock
from yiwang.common.departments import Department
from yiwang.common.events import CommandLevel, DepartmentRole
from yiwang.common.postgres import UnitOfWorkFactory
from yiwang.department_dispatch import handlers
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.department_dispatch.domain.model import WorkOrder, WorkOrderStatus
from yiwang.department_dispatch.domain.queries import (
    MAX_LIMIT,
    MAX_OFFSET,
    WorkOrderQuery,
    check_lister,
)
from yiwang.department_dispatch.domain.rulings import check_ruler
from yiwang.department_dispatch.entrypoints.http import DEPARTMENT_AUTH, timeline_name

CaseId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class WorkOrderView(BaseModel):
    work_order_id: str
    case_id: str
    case_number: str
    role: DepartmentRole
    command_level: CommandLevel
    status: WorkOrderStatus
    deadline: datetime
    response_due: datetime | None
    sla_policy: str | None
    issued_at: datetime
    ruling_id: str | None
    rehandling: int
    whistle_id: str | None

    @classmethod
    def of(cls, order: WorkOrder) -> WorkOrderView:
        return cls(
            work_order_id=order.work_order_id,
            case_id=order.case_id,
            case_number=order.case_number,
            role=order.role,
            command_level=order.command_level,
            status=order.status,
            deadline=order.deadline,
            response_due=order.response_due,
            sla_policy=order.sla_policy,
            issued_at=order.issued_at,
            ruling_id=order.ruling_id,
            rehandling=order.rehandling,
            whistle_id=order.whistle_id,
        )


class WorkOrderList(BaseModel):
    total: int
    limit: int
    offset: int
    work_orders: list[WorkOrderView]


class RulingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    department: Department
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class RulingAccepted(BaseModel):
    ruling_id: str
    case_id: str
    department: Department
    work_order_id: str
    ruled_by: str
    ruled_at: datetime
    returned_by: tuple[Department, ...]


def work_orders_router(
    *,
    uow: UnitOfWorkFactory[PostgresDispatchUnitOfWork],
    clock: Clock,
    authenticate: Authenticate,
) -> APIRouter:
    router = APIRouter(tags=["work orders"])
    can_list = allow(
        authenticate, Role.DEPARTMENT_SYSTEM, Role.DEPARTMENT_STAFF, bound=("department",)
    )
    can_rule = allow(authenticate, Role.HUB_OPERATOR, Role.DEPARTMENT_SYSTEM)

    @router.get(
        "/work-orders",
        response_model=WorkOrderList,
        summary="A department lists its own work orders, newest first",
        description=f"{DEPARTMENT_AUTH}. Only the credential's department's orders.",
        openapi_extra=can_list.openapi,
    )
    async def list_work_orders(
        actor: Actor = can_list.actor,
        status: Annotated[list[WorkOrderStatus] | None, Query(max_length=6)] = None,
        open: bool | None = None,
        case_id: Annotated[CaseId | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> WorkOrderList:
        department = check_lister(actor.department, name=actor.audit_name)
        query = WorkOrderQuery(
            statuses=frozenset(status or ()),
            open=open,
            case_id=case_id,
            limit=limit,
            offset=offset,
        )
        page = await handlers.list_work_orders(uow=uow(), department=department, query=query)
        return WorkOrderList(
            total=page.total,
            limit=limit,
            offset=offset,
            work_orders=[WorkOrderView.of(o) for o in page.orders],
        )

    @router.post(
        "/cases/{case_id}/ruling",
        response_model=RulingAccepted,
        status_code=201,
        summary="The county hub rules (终审): the named department handles the case",
        description="A hub operator (bearer token, role hub-operator) or the hub's own system "
        "(API key of comprehensive-governance). Only while the hub holds the case for triage "
        "or arbitration, once per routing decision. The named department may not return it.",
        openapi_extra=can_rule.openapi,
    )
    async def post_ruling(
        case_id: CaseId, body: RulingRequest, actor: Actor = can_rule.actor
    ) -> RulingAccepted:
        check_ruler(
            hub_operator=actor.has(Role.HUB_OPERATOR),
            department=actor.department if actor.has(Role.DEPARTMENT_SYSTEM) else None,
            name=actor.audit_name,
        )
        ruled_by = timeline_name(actor)
        ruling, work_order_id = await handlers.rule_on_case(
            uow=uow(),
            case_id=case_id,
            department=body.department,
            reason=body.reason,
            ruled_by=ruled_by,
            clock=clock,
        )
        return RulingAccepted(
            ruling_id=ruling.ruling_id,
            case_id=ruling.case_id,
            department=ruling.department,
            work_order_id=work_order_id,
            ruled_by=ruling.ruled_by,
            ruled_at=ruling.ruled_at,
            returned_by=ruling.returned_by,
        )

    return router
