"""In-memory fakes that subclass the real interfaces."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.department_dispatch.adapters.repository import DispatchRepository, RejectionRecord
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.credentials import StoredSecret
from yiwang.department_dispatch.domain.model import (
    OPEN_WORK_ORDER,
    DispatchCase,
    Whistle,
    WhistleAttendance,
    WorkOrder,
)
from yiwang.department_dispatch.domain.queries import WorkOrderPage, WorkOrderQuery
from yiwang.department_dispatch.domain.rulings import Ruling


class FakeDispatchRepository(DispatchRepository):
    def __init__(self) -> None:
        self.cases: dict[str, DispatchCase] = {}
        self.orders: dict[str, WorkOrder] = {}
        self.replies: dict[tuple[Department, str], DepartmentReplied] = {}
        self.rejections: list[RejectionRecord] = []
        self.whistles: dict[str, Whistle] = {}
        self.attendance: dict[tuple[str, Department], WhistleAttendance] = {}
        self.keys: dict[str, str] = {}
        self.rulings: dict[str, Ruling] = {}
        self.reply_actors: dict[tuple[Department, str], str] = {}
        self.secrets: dict[tuple[Department, str], StoredSecret] = {}

    async def get_case(self, case_id: str, *, lock: bool = False) -> DispatchCase | None:
        case = self.cases.get(case_id)
        return copy.deepcopy(case) if case else None

    async def save_case(self, case: DispatchCase) -> None:
        self.cases[case.case_id] = copy.deepcopy(case)

    async def add_work_order(self, order: WorkOrder) -> bool:
        if any(
            (o.case_id, o.department, o.round) == (order.case_id, order.department, order.round)
            for o in self.orders.values()
        ):
            return False
        self.orders[order.work_order_id] = copy.deepcopy(order)
        return True

    async def save_work_order(self, order: WorkOrder) -> None:
        self.orders[order.work_order_id] = copy.deepcopy(order)

    async def get_work_order(self, work_order_id: str) -> WorkOrder | None:
        order = self.orders.get(work_order_id)
        return copy.deepcopy(order) if order else None

    async def work_orders_of(self, case_id: str) -> list[WorkOrder]:
        return [copy.deepcopy(o) for o in self.orders.values() if o.case_id == case_id]

    async def list_work_orders(
        self, department: Department, query: WorkOrderQuery
    ) -> WorkOrderPage:
        found = [
            o
            for o in self.orders.values()
            if o.department == department
            and (not query.statuses or o.status in query.statuses)
            and (query.open is None or (o.status in OPEN_WORK_ORDER) == query.open)
            and (query.case_id is None or o.case_id == query.case_id)
        ]
        found.sort(key=lambda o: (o.issued_at, o.work_order_id), reverse=True)
        page = found[query.offset : query.offset + query.limit]
        return WorkOrderPage(total=len(found), orders=[copy.deepcopy(o) for o in page])

    async def add_ruling(self, ruling: Ruling) -> None:
        if any(
            (r.case_id, r.attempt) == (ruling.case_id, ruling.attempt)
            for r in self.rulings.values()
        ):
            raise RuntimeError("unique violation: one ruling per routing decision")
        self.rulings[ruling.ruling_id] = ruling

    async def reply_applied(self, department: Department, reply_id: str) -> bool:
        return (department, reply_id) in self.replies

    async def add_reply(
        self,
        reply: DepartmentReplied,
        *,
        department: Department,
        channel: str,
        at: datetime,
        actor: str,
    ) -> None:
        self.replies[(department, reply.reply_id)] = reply
        self.reply_actors[(department, reply.reply_id)] = actor

    async def add_rejection(self, rejection: RejectionRecord) -> None:
        self.rejections.append(rejection)

    async def add_whistle(self, whistle: Whistle) -> None:
        self.whistles[whistle.whistle_id] = whistle
        for d in whistle.departments:
            self.attendance[(whistle.whistle_id, d)] = WhistleAttendance(
                whistle_id=whistle.whistle_id,
                department=d,
                report_by=whistle.report_by,
                township_code=whistle.township_code,
                case_id=whistle.case_id,
            )

    async def get_attendance(
        self, whistle_id: str, department: Department
    ) -> WhistleAttendance | None:
        found = self.attendance.get((whistle_id, department))
        return copy.deepcopy(found) if found else None

    async def save_attendance(self, attendance: WhistleAttendance) -> None:
        self.attendance[(attendance.whistle_id, attendance.department)] = copy.deepcopy(attendance)

    async def lock_overdue_attendances(
        self, *, now: datetime, limit: int
    ) -> list[WhistleAttendance]:
        due = [a for a in self.attendance.values() if a.outcome is None and a.report_by <= now]
        return [copy.deepcopy(a) for a in due[:limit]]

    async def principal_for_key(self, key_hash: str) -> str | None:
        return self.keys.get(key_hash)

    async def add_api_key(self, key_hash: str, *, principal: str) -> None:
        self.keys[key_hash] = principal

    async def revoke_api_keys(self, principal: str) -> int:
        revoked = [h for h, p in self.keys.items() if p == principal]
        for key_hash in revoked:
            del self.keys[key_hash]
        return len(revoked)

    async def signing_secrets(
        self, department: Department, *, lock: bool = False
    ) -> list[StoredSecret]:
        held = [s for (d, _), s in self.secrets.items() if d == department]
        return sorted(held, key=lambda s: (s.created_at, s.key_id), reverse=True)

    async def add_signing_secret(self, secret: StoredSecret) -> bool:
        if secret.current and any(
            s.current for (d, _), s in self.secrets.items() if d == secret.department
        ):
            return False
        self.secrets[(secret.department, secret.key_id)] = secret
        return True

    async def end_signing_secret(
        self, department: Department, key_id: str, *, valid_until: datetime
    ) -> None:
        old = self.secrets[(department, key_id)]
        self.secrets[(department, key_id)] = replace(old, valid_until=valid_until)

    async def all_signing_secrets(self) -> list[StoredSecret]:
        return list(self.secrets.values())

    async def reseal_signing_secret(self, secret: StoredSecret, *, sealed: bytes) -> None:
        old = self.secrets[(secret.department, secret.key_id)]
        self.secrets[(secret.department, secret.key_id)] = replace(old, sealed=sealed)


class FakeDispatchUnitOfWork(InMemoryUnitOfWork, DispatchUnitOfWork):
    def __init__(self, repository: FakeDispatchRepository | None = None) -> None:
        super().__init__()
        self.repository = repository or FakeDispatchRepository()

    @property
    def dispatch(self) -> DispatchRepository:
        return self.repository
