"""A department's own listing of its work orders (GET /work-orders): who may list, and
what. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.departments import Department
from yiwang.department_dispatch.domain.model import WorkOrder, WorkOrderStatus

MAX_LIMIT = 200
MAX_OFFSET = 100_000


class ListingRefused(Exception):
    """A listing not answered. `code` is the stable reason; `status` and `field` say how
    HTTP answers it."""

    code: str = "listing_refused"
    status: int = 403
    field: str | None = "authorization"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotADepartment(ListingRefused):
    code = "not_a_department"


class InvalidQuery(ListingRefused):
    code = "invalid_query"
    status = 422

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


def check_lister(department: str | None, *, name: str) -> Department:
    """The department whose orders the caller lists: the one its credential is bound to."""
    if department not in set(Department):
        raise NotADepartment(f"{name} acts for no department; only departments list orders")
    return Department(department)


@dataclass(frozen=True)
class WorkOrderQuery:
    statuses: frozenset[WorkOrderStatus] = frozenset()  # empty: any
    open: bool | None = None  # True: issued, acknowledged or in progress; False: the others
    case_id: str | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}, not {self.limit}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidQuery("offset", f"must be between 0 and {MAX_OFFSET}, not {self.offset}")


@dataclass(frozen=True)
class WorkOrderPage:
    total: int  # how many orders match, across pages
    orders: list[WorkOrder]
