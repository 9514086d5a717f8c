"""The case projection: a fold over the case's timeline, sorted by event time (pure).

Events reach oversight on several topics, so they can arrive in any order and more than
once. The projection never applies an event "on top of" the previous state: it stores
every timeline entry once (keyed by its event id) and folds the whole timeline again,
sorted by event time with a fixed tie-break. Whatever the arrival order, the same set of
entries gives the same projection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from yiwang.common.case import Channel, Priority
from yiwang.common.departments import Department
from yiwang.common.states import OPEN_STATES, CaseState
from yiwang.oversight.domain.calendar import WorkdayRule, chinese_workday
from yiwang.oversight.domain.sla import Deadlines, deadlines_for, policy_for


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


# Case progress order: breaks ties between entries with the same event time.
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
    }
)
# States in which no deadline runs any more.
STOPPED_STATES = frozenset({S.CLOSED, S.REJECTED, S.DUPLICATE})


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
    received_at: datetime | None = None
    first_seen_at: datetime | None = None
    last_activity_at: datetime | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    return_count: int = 0
    extended: bool = False
    score: int | None = None  # the latest evaluation's satisfaction, 1-5
    evaluated_at: datetime | None = None
    deadlines: Deadlines | None = None

    @property
    def started_at(self) -> datetime | None:
        return self.received_at or self.first_seen_at

    @property
    def is_open(self) -> bool:
        return self.state is None or self.state in OPEN_STATES

    @property
    def response_running(self) -> bool:
        return (
            self.responded_at is None
            and self.resolved_at is None
            and self.state not in STOPPED_STATES
        )

    @property
    def resolution_running(self) -> bool:
        return self.resolved_at is None and self.state not in STOPPED_STATES

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


def _append_once(items: tuple[Department, ...], item: Department | None) -> tuple[Department, ...]:
    return items if item is None or item in items else (*items, item)


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
    target = entry.to_state
    if target is None:
        return
    case.state, case.state_at = target, entry.at
    department = _department(entry.attrs.get("department"))
    if target is S.RECEIVED and case.received_at is None:
        case.received_at = entry.at
    if department is not None and (target is S.ROUTED or case.lead_department is None):
        # Routing names the lead; before any routing is seen, the acting department is it.
        case.lead_department = department
        case.lead_history = _append_once(case.lead_history, department)
    if target is S.RETURNED:
        case.return_count += 1
        case.returned_by = _append_once(case.returned_by, department or _department(entry.actor))
    if target in RESPONDED_STATES and case.responded_at is None:
        case.responded_at = entry.at
    if target is S.RESOLVED:
        case.resolved_at = entry.at
    elif target not in RESOLVED_STATES:
        case.resolved_at = None  # reopened: the resolution clock runs again
    if target is S.CLOSED:
        case.closed_at = entry.at


def _apply_routing(case: CaseProjection, entry: TimelineEntry) -> None:
    lead = _department(entry.attrs.get("lead_department"))
    if lead is not None:
        case.lead_department = lead
        case.lead_history = _append_once(case.lead_history, lead)
    assisting = (_department(d) for d in entry.attrs.get("assisting_departments", ()))
    case.assisting_departments = tuple(d for d in assisting if d is not None)
    if entry.attrs.get("sla_class"):
        case.sla_class = entry.attrs["sla_class"]


def fold(
    case_id: str, entries: Iterable[TimelineEntry], *, is_workday: WorkdayRule = chinese_workday
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
    if case.started_at is not None:
        policy = policy_for(category=case.category, priority=case.priority, channel=case.channel)
        case.deadlines = deadlines_for(
            policy, started_at=case.started_at, extended=case.extended, is_workday=is_workday
        )
    return case
