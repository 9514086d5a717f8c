"""The dispatch repository: the interface handlers use (its unit of work: unit_of_work.py)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.department_dispatch.domain.model import (
    DispatchCase,
    Whistle,
    WhistleAttendance,
    WorkOrder,
)
from yiwang.department_dispatch.domain.queries import WorkOrderPage, WorkOrderQuery
from yiwang.department_dispatch.domain.rulings import Ruling


@dataclass(frozen=True)
class RejectionRecord:
    at: datetime
    channel: str
    reason: str
    detail: str
    security: bool
    department: Department | None = None
    claimed: str | None = None
    case_id: str | None = None
    work_order_id: str | None = None
    reply_id: str | None = None
    kind: str | None = None


class DispatchRepository(abc.ABC):
    @abc.abstractmethod
    async def get_case(self, case_id: str, *, lock: bool = False) -> DispatchCase | None: ...

    @abc.abstractmethod
    async def save_case(self, case: DispatchCase) -> None: ...

    @abc.abstractmethod
    async def add_work_order(self, order: WorkOrder) -> bool:
        """False when the case already has an order for this department in this round."""

    @abc.abstractmethod
    async def save_work_order(self, order: WorkOrder) -> None: ...

    @abc.abstractmethod
    async def get_work_order(self, work_order_id: str) -> WorkOrder | None: ...

    @abc.abstractmethod
    async def work_orders_of(self, case_id: str) -> list[WorkOrder]: ...

    @abc.abstractmethod
    async def list_work_orders(
        self, department: Department, query: WorkOrderQuery
    ) -> WorkOrderPage:
        """The department's orders matching the query, newest first, and how many match."""

    @abc.abstractmethod
    async def add_ruling(self, ruling: Ruling) -> None: ...

    @abc.abstractmethod
    async def reply_applied(self, department: Department, reply_id: str) -> bool: ...

    @abc.abstractmethod
    async def add_reply(
        self, reply: DepartmentReplied, *, department: Department, channel: str, at: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def add_rejection(self, rejection: RejectionRecord) -> None: ...

    @abc.abstractmethod
    async def add_whistle(self, whistle: Whistle) -> None: ...

    @abc.abstractmethod
    async def get_attendance(
        self, whistle_id: str, department: Department
    ) -> WhistleAttendance | None: ...

    @abc.abstractmethod
    async def save_attendance(self, attendance: WhistleAttendance) -> None: ...

    @abc.abstractmethod
    async def lock_overdue_attendances(
        self, *, now: datetime, limit: int
    ) -> list[WhistleAttendance]:
        """Attendances still waiting past their deadline, locked (others skip them)."""

    @abc.abstractmethod
    async def principal_for_key(self, key_hash: str) -> str | None: ...

    @abc.abstractmethod
    async def add_api_key(self, key_hash: str, *, principal: str) -> None: ...

    @abc.abstractmethod
    async def revoke_api_keys(self, principal: str) -> int:
        """Revoke every active key of the principal; how many there were."""
