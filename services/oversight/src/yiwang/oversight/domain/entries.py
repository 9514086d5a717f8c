"""Timeline entries from the events oversight consumes (pure translation, no rules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yiwang.common.events import (
    CaseEvaluated,
    CaseReopened,
    CaseRouted,
    CaseStateChanged,
    MediationProgressed,
    OversightAlertRaised,
    RulingMade,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.oversight.domain.projection import EntryKind, TimelineEntry


def _present(**attrs: Any) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v not in (None, (), "")}


def from_state_change(event: CaseStateChanged, *, event_id: str) -> TimelineEntry:
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=event.at,
        kind=EntryKind.STATE_CHANGED,
        actor=event.actor,
        from_state=event.from_state,
        to_state=event.to_state,
        note=event.note,
        attrs=_present(
            case_number=event.case_number,
            department=event.department,
            township_code=event.township_code,
            micro_grid=event.micro_grid,
            category=event.category,
            channel=event.channel,
            priority=event.priority,
        ),
    )


def from_routing(event: CaseRouted, *, event_id: str, at: datetime) -> TimelineEntry:
    """A routing decision; its time is the event's (CloudEvents `time`)."""
    grid = event.micro_grid
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=at,
        kind=EntryKind.ROUTED,
        actor="grid-routing",
        note=event.reason,
        attrs=_present(
            case_number=event.case.case_number,
            category=event.case.category,
            channel=event.case.channel.value,
            priority=event.case.priority.value,
            lead_department=event.lead_department.value,
            assisting_departments=[d.value for d in event.assisting_departments],
            township_code=grid.township_code if grid else None,
            micro_grid=grid.code if grid else None,
            sla_class=event.sla_class,
            received_at=event.case.received_at.isoformat() if event.case.received_at else None,
            clock_restarted_at=(
                event.clock_restarted_at.isoformat() if event.clock_restarted_at else None
            ),
            tier=event.tier.value,
            triage=event.triage or None,
            attempt=event.attempt,
        ),
    )


def from_whistle_blown(event: WhistleBlown, *, event_id: str, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=at,
        kind=EntryKind.WHISTLE_BLOWN,
        actor=f"township:{event.township_code}",
        note=event.reason,
        attrs=_present(
            whistle_id=event.whistle_id,
            departments=[d.value for d in event.departments],
            report_by=event.report_by.isoformat(),
        ),
    )


def from_whistle_attendance(
    event: WhistleAttendanceRecorded, *, event_id: str, at: datetime
) -> TimelineEntry:
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=event.reported_at or at,
        kind=EntryKind.WHISTLE_ATTENDANCE,
        actor=event.department.value,
        note="reported on time" if event.on_time else "did not report on time",
        attrs=_present(whistle_id=event.whistle_id, on_time=event.on_time),
    )


def from_mediation(event: MediationProgressed, *, event_id: str, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=at,
        kind=EntryKind.MEDIATION,
        actor="mediation",
        note=f"{event.level}: {event.step}" + (f" ({event.outcome})" if event.outcome else ""),
        attrs=_present(
            mediation_id=event.mediation_id,
            level=event.level,
            step=event.step,
            outcome=event.outcome,
        ),
    )


def from_evaluation(event: CaseEvaluated, *, at: datetime, actor: str) -> TimelineEntry:
    return TimelineEntry(
        entry_id=f"evaluation:{event.evaluation_id}",
        case_id=event.case_id,
        at=at,
        kind=EntryKind.EVALUATED,
        actor=actor,
        note=event.comment,
        attrs={"score": event.score, "evaluation_id": event.evaluation_id},
    )


def from_alert(alert: OversightAlertRaised, *, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        entry_id=f"alert:{alert.alert_id}",
        case_id=alert.case_id,
        at=at,
        kind=EntryKind.ALERT,
        actor="oversight",
        note=alert.reason,
        attrs=_present(kind=alert.kind.value, command_level=alert.command_level.value),
    )


def from_reopening(event: CaseReopened) -> TimelineEntry:
    """Oversight's own entry when it reopens a case (不满意重办): both clocks restart at
    `reopened_at`. One per evaluation."""
    return TimelineEntry(
        entry_id=f"reopened:{event.evaluation_id}",
        case_id=event.case_id,
        at=event.reopened_at,
        kind=EntryKind.REOPENED,
        actor="oversight",
        note=event.reason,
        attrs=_present(
            rehandling=event.rehandling,
            to_hub=event.to_hub,
            department=event.department.value if event.department else None,
            evaluation_id=event.evaluation_id,
        ),
    )


def from_ruling(event: RulingMade, *, event_id: str) -> TimelineEntry:
    """The county hub's final ruling (终审): the department it names leads from now on."""
    return TimelineEntry(
        entry_id=event_id,
        case_id=event.case_id,
        at=event.ruled_at,
        kind=EntryKind.RULING,
        actor=event.ruled_by,
        note=event.reason,
        attrs=_present(
            ruling_id=event.ruling_id,
            department=event.department.value,
            returned_by=[d.value for d in event.returned_by],
        ),
    )


# The events that become one timeline entry each, from whatever topic they come on.
ProjectedEvent = (
    CaseStateChanged
    | CaseRouted
    | RulingMade
    | MediationProgressed
    | WhistleBlown
    | WhistleAttendanceRecorded
)


def from_event(event: ProjectedEvent, *, event_id: str, at: datetime) -> TimelineEntry:
    """The entry for a consumed event; `at` is its envelope's time (for events without a
    moment of their own)."""
    match event:
        case CaseStateChanged():
            return from_state_change(event, event_id=event_id)
        case CaseRouted():
            return from_routing(event, event_id=event_id, at=at)
        case RulingMade():
            return from_ruling(event, event_id=event_id)
        case MediationProgressed():
            return from_mediation(event, event_id=event_id, at=at)
        case WhistleBlown():
            return from_whistle_blown(event, event_id=event_id, at=at)
        case WhistleAttendanceRecorded():
            return from_whistle_attendance(event, event_id=event_id, at=at)
