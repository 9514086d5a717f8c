"""The case projection: a fold over the case's timeline, sorted by event time (pure).

Events reach oversight on several topics, so they can arrive in any order and more than
once. The projection never applies an event "on top of" the previous state: it stores
every timeline entry once (keyed by its event id) and folds the whole timeline again,
sorted by event time with a fixed tie-break. Whatever the arrival order, the same set of
entries gives the same projection.

The deadlines are the one SLA policy of libs/common (`yiwang.common.sla`), computed with
the inputs department-dispatch uses for its work orders, so both name the same instants:
the case's category, priority, channel and the routing's `sla_class`, from the moment the
clock started. The first handling's clock starts when intake received the case
(`CaseFacts.received_at`; for old events without it, when it was first routed); a
re-handling's when oversight reopened it.

A grid-tier case (小事不出网格) is first a task for its micro-grid's worker (in_grid):
grid-routing owns it and runs the grid clock, so no department clock runs and the case
is neither overdue nor stagnant here while it is in the grid. How the task ended
(`grid_outcome`) feeds the settled-in-grid share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from yiwang.common.case import Channel, Priority
from yiwang.common.departments import Department
from yiwang.common.sla import Deadlines, deadlines_for, policy_for
from yiwang.common.states import OPEN_STATES, CaseState
from yiwang.common.working_days import WorkdayRule, is_workday


class EntryKind(StrEnum):
    STATE_CHANGED = "state_changed"  # case.lifecycle.v1
    ROUTED = "routed"  # case.routed.v1: lead, assisting, township, micro-grid, SLA class
    WHISTLE_BLOWN = "whistle_blown"
    WHISTLE_ATTENDANCE = "whistle_attendance"
    MEDIATION = "mediation"
    EVALUATED = "evaluated"
    FOLLOW_UP_CALL = "follow_up_call"
    ALERT = "alert"
    EXTENDED = "extended"  # the resolution deadline was extended (petitions)
    REOPENED = "reopened"  # "unsatisfied": oversight reopened it for re-handling (不满意重办)
    RULING = "ruling"  # the county hub's final ruling (终审) named the lead department


# Case progress order: breaks ties between entries with the same event time. An entry
# kind later in EntryKind comes after a state change at the same instant: the reopening
# after the evaluation that caused it.
_STATE_RANK = {state: rank for rank, state in enumerate(CaseState)}
_KIND_RANK = {kind: rank for rank, kind in enumerate(EntryKind)}

S = CaseState
RESPONDED_STATES = frozenset(
    {S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED, S.EVALUATED, S.CLOSED, S.IN_MEDIATION}
)
RESOLVED_STATES = frozenset({S.RESOLVED, S.EVALUATED, S.CLOSED})
# What counts as work on the case for stagnancy (oversight's own alerts and calls do not).
ACTIVITY_KINDS = frozenset(
    {
        EntryKind.STATE_CHANGED,
        EntryKind.ROUTED,
        EntryKind.MEDIATION,
        EntryKind.WHISTLE_BLOWN,
        EntryKind.WHISTLE_ATTENDANCE,
        EntryKind.REOPENED,
        EntryKind.RULING,
    }
)
# States in which no deadline runs any more.
STOPPED_STATES = frozenset({S.CLOSED, S.REJECTED, S.DUPLICATE})
# Hand-off states: a consumer should take the case on within seconds (stranded otherwise).
HANDOFF_STATES = frozenset({S.RECEIVED, S.ROUTED, S.RETURNED})


class GridOutcome(StrEnum):
    """How a grid worker's task ended (小事不出网格)."""

    IN_GRID = "in_grid"  # still the worker's
    SETTLED = "settled"  # 就地解决: in_grid -> resolved
    PASSED_UP = "passed_up"  # 上报: in_grid -> routed, by hand or on the grid deadline


MEDIATION_ACTOR = "mediation"
HUB = Department.COMPREHENSIVE_GOVERNANCE


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    entry_id: str  # the event id: the same event is one entry, however often it arrives
    case_id: str
    at: datetime
    kind: EntryKind
    actor: str
    from_state: CaseState | None = None
    to_state: CaseState | None = None
    note: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[datetime, int, int, str]:
        state_rank = _STATE_RANK[self.to_state] if self.to_state else -1
        return (self.at, _KIND_RANK[self.kind], state_rank, self.entry_id)


@dataclass(slots=True)
class CaseProjection:
    case_id: str
    case_number: str | None = None
    state: CaseState | None = None  # None until a lifecycle entry arrived
    state_at: datetime | None = None
    category: str | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    lead_department: Department | None = None
    assisting_departments: tuple[Department, ...] = ()
    lead_history: tuple[Department, ...] = ()
    returned_by: tuple[Department, ...] = ()
    township_code: str | None = None
    micro_grid: str | None = None
    sla_class: str | None = None
    facts_received_at: datetime | None = None  # CaseFacts.received_at, from routing
    receipt_at: datetime | None = None  # the "received" lifecycle entry's time
    routed_at: datetime | None = None  # the first routing decision's time
    first_seen_at: datetime | None = None
    last_activity_at: datetime | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None  # the actor of the latest "resolved"
    closed_at: datetime | None = None
    closed_after_evaluation: bool | None = None  # None until closed
    return_count: int = 0
    extended: bool = False
    score: int | None = None  # the latest evaluation's satisfaction, 1-5
    evaluated_at: datetime | None = None
    reopened_at: datetime | None = None  # the latest reopening for re-handling
    # When routing restarted the department's clock (a matter passed up from the grid gets
    # the department's whole time from the pass-up, as dispatch tells it).
    clock_restarted_at: datetime | None = None
    rehandling: int = 0  # how often it was reopened for an unsatisfied evaluation
    rehandled_to_hub: bool = False
    ruled: bool = False  # the hub made its final ruling (终审)
    duplicate: bool = False  # linked to a master case: nobody's work, even once closed
    grid_outcome: GridOutcome | None = None  # None: never a grid worker's task
    deadlines: Deadlines | None = None

    @property
    def received_at(self) -> datetime | None:
        """When intake received the case (the same instant in its facts and its entry)."""
        return self.facts_received_at or self.receipt_at

    @property
    def started_at(self) -> datetime | None:
        """When the first handling's clock started, as dispatch starts it: intake's
        `received_at`, for old events the first routing's time; the cohort's date."""
        return self.facts_received_at or self.routed_at or self.receipt_at or self.first_seen_at

    @property
    def clock_started_at(self) -> datetime | None:
        """When the running handling's clock started: the receipt, or the latest restart
        (a reopening, or routing's restart at a pass-up from the grid)."""
        restarts = [t for t in (self.reopened_at, self.clock_restarted_at) if t is not None]
        return max(restarts) if restarts else self.started_at

    @property
    def awaiting_rehandling(self) -> bool:
        """Reopened after its latest evaluation; dispatch has not dispatched it yet."""
        return (
            self.state is S.EVALUATED
            and self.reopened_at is not None
            and self.state_at is not None
            and self.reopened_at >= self.state_at
        )

    @property
    def mediation_held(self) -> bool:
        """Resolved by a mediated agreement: mediation's follow-up closes it, not oversight."""
        return self.resolved_by == MEDIATION_ACTOR

    @property
    def is_open(self) -> bool:
        return self.state is None or self.state in OPEN_STATES or self.awaiting_rehandling

    @property
    def in_grid(self) -> bool:
        """The grid worker's task: grid-routing runs its clock, no department's runs."""
        return self.state is S.IN_GRID

    @property
    def response_running(self) -> bool:
        return (
            self.responded_at is None
            and self.resolved_at is None
            and self.state not in STOPPED_STATES
            and not self.in_grid
        )

    @property
    def resolution_running(self) -> bool:
        return self.resolved_at is None and self.state not in STOPPED_STATES and not self.in_grid

    def overdue_at(self, now: datetime) -> bool:
        """Overdue is a flag: a running clock whose deadline has passed."""
        if self.deadlines is None:
            return False
        return (self.response_running and self.deadlines.response_due <= now) or (
            self.resolution_running and self.deadlines.resolution_due <= now
        )


def _department(raw: Any) -> Department | None:
    try:
        return Department(raw) if raw else None
    except ValueError:
        return None


def _moment(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None


def _append_once(items: tuple[Department, ...], item: Department | None) -> tuple[Department, ...]:
    return items if item is None or item in items else (*items, item)


def _lead(case: CaseProjection, department: Department | None) -> None:
    if department is not None:
        case.lead_department = department
        case.lead_history = _append_once(case.lead_history, department)


def _take_facts(case: CaseProjection, attrs: Mapping[str, Any]) -> None:
    """Later entries win for facts they carry; a missing fact keeps the earlier value."""
    if attrs.get("case_number"):
        case.case_number = attrs["case_number"]
    if attrs.get("category"):
        case.category = attrs["category"]
    if attrs.get("channel"):
        case.channel = Channel(attrs["channel"])
    if attrs.get("priority"):
        case.priority = Priority(attrs["priority"])
    if attrs.get("township_code"):
        case.township_code = attrs["township_code"]
    if attrs.get("micro_grid"):
        case.micro_grid = attrs["micro_grid"]


def _apply_state_change(case: CaseProjection, entry: TimelineEntry) -> None:
    target, prior = entry.to_state, case.state
    if target is None:
        return
    case.state, case.state_at = target, entry.at
    department = _department(entry.attrs.get("department"))
    if target is S.RECEIVED and case.receipt_at is None:
        case.receipt_at = entry.at
    if target is S.DUPLICATE:
        case.duplicate = True
    if target is S.IN_GRID:
        case.grid_outcome = GridOutcome.IN_GRID
    elif prior is S.IN_GRID:
        case.grid_outcome = GridOutcome.SETTLED if target is S.RESOLVED else GridOutcome.PASSED_UP
    if department is not None and (
        target is S.ROUTED
        or case.lead_department is None
        or (target is S.DISPATCHED and prior is S.EVALUATED)  # re-handling: the new lead
    ):
        # Routing names the lead; before any routing is seen, the acting department is it.
        _lead(case, department)
    if target is S.RETURNED:
        case.return_count += 1
        case.returned_by = _append_once(case.returned_by, department or _department(entry.actor))
    if target in RESPONDED_STATES and case.responded_at is None:
        case.responded_at = entry.at
    if target is S.RESOLVED:
        case.resolved_at, case.resolved_by = entry.at, entry.actor
    elif target not in RESOLVED_STATES:
        case.resolved_at = None  # reopened: the resolution clock runs again
    if target is S.CLOSED:
        case.closed_at = entry.at
        case.closed_after_evaluation = prior is S.EVALUATED


def _apply_routing(case: CaseProjection, entry: TimelineEntry) -> None:
    _lead(case, _department(entry.attrs.get("lead_department")))
    assisting = (_department(d) for d in entry.attrs.get("assisting_departments", ()))
    case.assisting_departments = tuple(d for d in assisting if d is not None)
    if entry.attrs.get("sla_class"):
        case.sla_class = entry.attrs["sla_class"]
    received = _moment(entry.attrs.get("received_at"))
    if received is not None:
        case.facts_received_at = received
    restarted = _moment(entry.attrs.get("clock_restarted_at"))
    if restarted is not None:
        case.clock_restarted_at = restarted
    if case.routed_at is None:
        case.routed_at = entry.at


def _apply_reopening(case: CaseProjection, entry: TimelineEntry) -> None:
    """Both clocks restart at the reopening; what was signed for and resolved is undone."""
    case.reopened_at = entry.at
    case.rehandling = max(case.rehandling, int(entry.attrs.get("rehandling", 1)))
    to_hub = bool(entry.attrs.get("to_hub"))
    case.rehandled_to_hub = case.rehandled_to_hub or to_hub
    case.responded_at = case.resolved_at = None
    _lead(case, HUB if to_hub else _department(entry.attrs.get("department")))


def _apply_ruling(case: CaseProjection, entry: TimelineEntry) -> None:
    case.ruled = True
    _lead(case, _department(entry.attrs.get("department")))


def fold(
    case_id: str,
    entries: Iterable[TimelineEntry],
    *,
    is_workday: WorkdayRule = is_workday,
) -> CaseProjection:
    """The case as its timeline says it is, whatever order the entries arrived in."""
    case = CaseProjection(case_id=case_id)
    for entry in sorted(entries, key=TimelineEntry.sort_key):
        if case.first_seen_at is None:
            case.first_seen_at = entry.at
        if entry.kind in ACTIVITY_KINDS:
            case.last_activity_at = entry.at
        _take_facts(case, entry.attrs)
        if entry.kind is EntryKind.STATE_CHANGED:
            _apply_state_change(case, entry)
        elif entry.kind is EntryKind.ROUTED:
            _apply_routing(case, entry)
        elif entry.kind is EntryKind.EXTENDED:
            case.extended = True
        elif entry.kind is EntryKind.EVALUATED:
            case.score, case.evaluated_at = int(entry.attrs["score"]), entry.at
        elif entry.kind is EntryKind.REOPENED:
            _apply_reopening(case, entry)
        elif entry.kind is EntryKind.RULING:
            _apply_ruling(case, entry)
    started = case.clock_started_at
    if started is not None:
        policy = policy_for(
            category=case.category,
            priority=case.priority,
            channel=case.channel,
            sla_class=case.sla_class,
        )
        case.deadlines = deadlines_for(
            policy, started_at=started, extended=case.extended, is_workday=is_workday
        )
    return case
