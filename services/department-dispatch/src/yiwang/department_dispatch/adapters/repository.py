"""The dispatch repository: the interface handlers use (its unit of work: unit_of_work.py)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.departments import Department
from yiwang.common.events import DepartmentReplied
from yiwang.department_dispatch.domain.credentials import StoredSecret
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
    actor: str | None = None  # the authenticated sender's audit name; None without one


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

    # A poll's worth at once. These defaults go one at a time; PostgreSQL does each in
    # one statement (postgres_batches.py).

    async def get_cases(
        self, case_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, DispatchCase]:
        found = {case_id: await self.get_case(case_id, lock=lock) for case_id in case_ids}
        return {case_id: case for case_id, case in found.items() if case is not None}

    async def work_orders_of_cases(self, case_ids: Sequence[str]) -> dict[str, list[WorkOrder]]:
        return {case_id: await self.work_orders_of(case_id) for case_id in case_ids}

    async def save_cases(self, cases: Sequence[DispatchCase]) -> None:
        for case in cases:
            await self.save_case(case)

    async def save_work_orders(self, orders: Sequence[WorkOrder]) -> None:
        for order in orders:
            await self.save_work_order(order)

    async def add_work_orders(self, orders: Sequence[WorkOrder]) -> set[str]:
        """The ids of those added (add_work_order for each)."""
        return {order.work_order_id for order in orders if await self.add_work_order(order)}

    async def save_cases_issuing(
        self, cases: Sequence[DispatchCase], orders: Sequence[WorkOrder]
    ) -> set[str]:
        """Save the cases, then add their new orders: the ids of the orders added."""
        await self.save_cases(cases)
        return await self.add_work_orders(orders)

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
        self,
        reply: DepartmentReplied,
        *,
        department: Department,
        channel: str,
        at: datetime,
        actor: str,
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

    @abc.abstractmethod
    async def signing_secrets(
        self, department: Department, *, lock: bool = False
    ) -> list[StoredSecret]:
        """The department's signing secrets, newest first (`lock`: for a rotation)."""

    @abc.abstractmethod
    async def add_signing_secret(self, secret: StoredSecret) -> bool:
        """False when the department already has a current secret (another made it)."""

    @abc.abstractmethod
    async def end_signing_secret(
        self, department: Department, key_id: str, *, valid_until: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def all_signing_secrets(self) -> list[StoredSecret]:
        """Every stored secret, locked, for re-sealing under the current master key."""

    @abc.abstractmethod
    async def reseal_signing_secret(self, secret: StoredSecret, *, sealed: bytes) -> None: ...
