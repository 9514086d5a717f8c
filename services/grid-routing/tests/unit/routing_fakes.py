"""In-memory fakes that subclass the real interfaces, and the events routing consumes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import shapely
from yiwang.common.case import CaseFacts, Channel, Location
from yiwang.common.departments import Department
from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    CaseLeftMediation,
    CaseReceived,
    CaseReturned,
    MediationOutcome,
    WorkerRole,
)
from yiwang.common.testing import InMemoryUnitOfWork
from yiwang.grid_routing.adapters.grid_tasks import GridTaskRepository
from yiwang.grid_routing.adapters.rosters import (
    RosterRepository,
    RosterSummary,
    UnknownRoster,
    WorkerLoad,
)
from yiwang.grid_routing.adapters.routed_cases import RecordedDecision, RoutedCaseRepository
from yiwang.grid_routing.adapters.unit_of_work import RoutingUnitOfWork
from yiwang.grid_routing.domain.assists import AssistTask, CasePlace
from yiwang.grid_routing.domain.grid_tasks import GridTask
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.notices import GridNotice
from yiwang.grid_routing.domain.roster import GridWorker, agent_for
from yiwang.grid_routing.domain.routed_case import RoutedCase

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeRoutedCases(RoutedCaseRepository):
    def __init__(self) -> None:
        self.cases: dict[str, RoutedCase] = {}
        self.decisions: list[tuple[str, RecordedDecision]] = []
        self.saves: list[list[str]] = []  # the case ids of each save_many call

    async def get(self, case_id: str) -> RoutedCase | None:
        return self.cases.get(case_id)

    async def get_many(self, case_ids: Sequence[str]) -> dict[str, RoutedCase]:
        return {c: self.cases[c] for c in case_ids if c in self.cases}

    async def save_many(self, cases: Sequence[RoutedCase]) -> None:
        ids = [case.case_id for case in cases]
        assert len(set(ids)) == len(ids), "Postgres refuses one row twice in an upsert"
        self.saves.append(ids)
        self.cases.update(zip(ids, cases, strict=True))

    async def add_decisions(self, decisions: Sequence[tuple[str, RecordedDecision]]) -> None:
        self.decisions += decisions


class FakeGridTasks(GridTaskRepository):
    """The active roster's workers and the grid tasks, in memory."""

    def __init__(self, workers: Sequence[GridWorker] = ()) -> None:
        self.workers = list(workers)
        self.tasks: dict[str, GridTask] = {}
        self.audits: list[dict[str, object]] = []
        self.notices: list[GridNotice] = []
        self.places: dict[str, CasePlace] = {}
        self.assists: dict[str, AssistTask] = {}

    async def agents_for(
        self, micro_grid_codes: Sequence[str], role: WorkerRole = WorkerRole.AGENT
    ) -> dict[str, GridWorker]:
        found = {c: agent_for(self.workers, c, role) for c in micro_grid_codes}
        return {c: w for c, w in found.items() if w is not None}

    async def worker(self, worker_id: str) -> GridWorker | None:
        return next((w for w in self.workers if w.worker_id == worker_id), None)

    async def add_many(self, tasks: Sequence[GridTask]) -> None:
        for task in tasks:
            assert task.task_id not in self.tasks, "the primary key refuses a second row"
            self.tasks[task.task_id] = task

    async def get(self, task_id: str) -> GridTask | None:
        return self.tasks.get(task_id)

    async def of_case(self, case_id: str) -> GridTask | None:
        return next((t for t in self.tasks.values() if t.case_id == case_id), None)

    async def save(self, task: GridTask) -> None:
        self.tasks[task.task_id] = task

    async def overdue(self, now: datetime, *, limit: int) -> list[str]:
        due = sorted((t for t in self.tasks.values() if t.is_open and t.due_at <= now),
                     key=lambda t: t.due_at)  # fmt: skip
        return [t.task_id for t in due[:limit]]

    async def of_worker(self, worker_id: str, *, open_only: bool) -> list[GridTask]:
        return [t for t in self.tasks.values()
                if t.worker_id == worker_id and (t.is_open or not open_only)]  # fmt: skip

    async def micro_grid_of(self, case_id: str) -> str | None:
        task = await self.of_case(case_id)
        return task.micro_grid_code if task else None

    async def place_of(self, case_id: str) -> CasePlace | None:
        return self.places.get(case_id)

    async def assistant_for(self, micro_grid_code: str) -> GridWorker | None:
        found = sorted((w for w in self.workers if w.serves(micro_grid_code)
                        and w.has(WorkerRole.ASSISTANT)), key=lambda w: w.worker_id)  # fmt: skip
        return found[0] if found else None

    async def add_assist(self, assist: AssistTask) -> None:
        self.assists[assist.assist_id] = assist

    async def get_assist(self, assist_id: str) -> AssistTask | None:
        return self.assists.get(assist_id)

    async def save_assist(self, assist: AssistTask) -> None:
        self.assists[assist.assist_id] = assist

    async def assists_of(self, worker_id: str, *, open_only: bool) -> list[AssistTask]:
        return [a for a in self.assists.values() if a.worker_id == worker_id
                and (a.status == "requested" or not open_only)]  # fmt: skip

    async def add_notice(self, notice: GridNotice) -> None:
        self.notices.append(notice)

    async def notices_of(self, case_id: str) -> list[GridNotice]:
        return [n for n in self.notices if n.case_id == case_id]

    async def audit(
        self, *, at: datetime, actor: str, task: GridTask, action: str, outcome: str, detail: str
    ) -> None:
        self.audits.append({"actor": actor, "task_id": task.task_id, "action": action,
                            "outcome": outcome, "detail": detail})  # fmt: skip


class FakeUnitOfWork(InMemoryUnitOfWork, RoutingUnitOfWork):
    """A failure throws the transaction's writes away, as a rollback would."""

    def __init__(
        self, cases: FakeRoutedCases | None = None, grid_tasks: FakeGridTasks | None = None
    ) -> None:
        self.cases = cases or FakeRoutedCases()
        self.grid_tasks = grid_tasks or FakeGridTasks()
        super().__init__(rolls_back=[self.cases, self.grid_tasks])


def received(
    index: GridIndex, category: str = "gas-leak", *, case_id: str = "case-7", position: int = 4
) -> Envelope[CaseReceived]:
    """A receipt with its point inside the micro-grid at `position` of the index."""
    point = shapely.point_on_surface(index.polygons[position])
    facts = CaseFacts(
        case_id=case_id,
        case_number=f"YQ-20260302-{case_id}",
        category=category,
        title="闻到燃气味",
        description="楼道有燃气味",
        channel=Channel.HOTLINE,
        location=Location(lon=point.x, lat=point.y),
    )
    return Envelope(
        payload=CaseReceived(case_id=case_id, case=facts, received_at=NOW), source="/yiwang/intake"
    )


def returned(department: Department, count: int) -> Envelope[CaseReturned]:
    return Envelope(
        payload=CaseReturned(
            case_id="case-7",
            department=department,
            reason_code="not-ours",
            reason="不属于本部门职责",
            return_count=count,
        ),
        source="/yiwang/department-dispatch",
    )


def left_mediation(
    outcome: MediationOutcome = MediationOutcome.DECLINED, *, case_id: str = "case-7"
) -> Envelope[CaseLeftMediation]:
    return Envelope(
        payload=CaseLeftMediation(
            case_id=case_id,
            mediation_id="med-1",
            outcome=outcome,
            reason="mediation declined at grid:140302001002001",
        ),
        source="/yiwang/mediation",
    )


class FakeRosters(RosterRepository):
    """Roster versions in memory, checked against a fixed set of micro-grids."""

    def __init__(self, micro_grids: frozenset[str] = frozenset(), grid_set: int = 1) -> None:
        self.micro_grids = micro_grids
        self.grid_set = grid_set
        self.versions: list[list[GridWorker]] = []
        self.current: int | None = None

    async def active_grid_micro_grids(self) -> tuple[int, frozenset[str]] | None:
        return (self.grid_set, self.micro_grids) if self.micro_grids else None

    async def add(
        self,
        workers: Sequence[GridWorker],
        *,
        label: str,
        source: str,
        grid_set: int,
        only_if_empty: bool = False,
    ) -> int | None:
        if only_if_empty and self.versions:
            return None
        self.versions.append(list(workers))
        self.current = len(self.versions)
        return self.current

    async def activate(self, version: int) -> None:
        if not 1 <= version <= len(self.versions):
            raise UnknownRoster(version)
        self.current = version

    async def summaries(self) -> list[RosterSummary]:
        return [
            RosterSummary(n, "", "", self.grid_set, len(w), NOW, n == self.current)
            for n, w in enumerate(self.versions, start=1)
        ]

    async def workers(
        self, *, micro_grid: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[WorkerLoad]:
        active = self.versions[self.current - 1] if self.current else []
        chosen = [w for w in active if micro_grid is None or w.serves(micro_grid)]
        return [WorkerLoad(w, 0) for w in chosen[offset : offset + limit]]
