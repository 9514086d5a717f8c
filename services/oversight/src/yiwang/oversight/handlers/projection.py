"""The projection: events from the other services become entries on the case's timeline.

A poll's events go through the inbox first; their entries, each touched case folded once
from its timeline, its timers and any alert commit in one transaction. `project` and
`raise_alert` are shared with the other handler modules: every change to a case goes
through them, with the county's `OversightPolicy` (close and stranded timers).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CommandLevel,
    EvaluationInvited,
    OversightAlertRaised,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.topics import OVERSIGHT_ALERTS, OVERSIGHT_INVITATIONS
from yiwang.oversight.adapters.repository import OversightRepository
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.entries import ProjectedEvent
from yiwang.oversight.domain.escalation import OversightPolicy, is_bounced, timers_for
from yiwang.oversight.domain.invitation import (
    TOKEN_BYTES,
    IssuedToken,
    invitation_expiry,
    token_hash,
)
from yiwang.oversight.domain.projection import CaseProjection, TimelineEntry, fold
from yiwang.oversight.metrics import ALERTS_RAISED

CONSUMER = "oversight"


async def load_case(repository: OversightRepository, case_id: str) -> CaseProjection | None:
    timeline = await repository.timeline(case_id)
    return fold(case_id, timeline) if timeline else None


async def raise_alert(
    uow: OversightUnitOfWork, alert: OversightAlertRaised, *, case: CaseProjection, now: datetime
) -> bool:
    """Store, time-line and emit an alert; False if one with its id was raised before."""
    repository = uow.repository
    if not await repository.add_alert(alert, township_code=case.township_code, raised_at=now):
        return False
    await repository.add_entry(entries.from_alert(alert, at=now))
    await uow.emit(alert, topic=OVERSIGHT_ALERTS)
    ALERTS_RAISED.labels(alert.kind.value, alert.command_level.value).inc()
    return True


async def project(
    uow: OversightUnitOfWork, *new: TimelineEntry, now: datetime, policy: OversightPolicy
) -> CaseProjection:
    """Add one case's entries; the case as its timeline now says it is."""
    (case,) = await project_all(uow, new, now=now, policy=policy)
    return case


async def project_all(
    uow: OversightUnitOfWork,
    new: Sequence[TimelineEntry],
    *,
    now: datetime,
    policy: OversightPolicy,
) -> list[CaseProjection]:
    """Add entries of any cases, fold each touched case's timeline once, and bring its
    timers and flags in line: a poll's worth of cases in a few statements."""
    repository = uow.repository
    case_ids = sorted({entry.case_id for entry in new})  # sorted: two batches never deadlock
    await repository.lock_cases(case_ids)
    await repository.add_entries(new)
    timelines = await repository.timelines(case_ids)
    cases = [fold(case_id, timelines[case_id]) for case_id in case_ids]
    await repository.save_cases(cases)
    await repository.sync_timers_of({c.case_id: timers_for(c, policy=policy) for c in cases})
    for case in cases:
        if is_bounced(case):
            await raise_alert(uow, _bounced(case), case=case, now=now)
        await invite_evaluation(uow, case, now=now, policy=policy)
    return cases


def _bounced(case: CaseProjection) -> OversightAlertRaised:
    return OversightAlertRaised(
        case_id=case.case_id,
        alert_id=f"bounced:{case.case_id}",
        kind=AlertKind.BOUNCED,
        command_level=CommandLevel.COUNTY,
        department=case.lead_department,
        reason=f"returned {case.return_count} times (by {', '.join(case.returned_by)}); "
        "the county hub must arbitrate responsibility",
    )


async def invite_evaluation(
    uow: OversightUnitOfWork, case: CaseProjection, *, now: datetime, policy: OversightPolicy
) -> bool:
    """Once per resolution of a case waiting for its evaluation: a one-time token, kept as
    its hash, and `EvaluationInvited` for the reporter's channel. False if none was due."""
    expires = invitation_expiry(case, policy=policy, now=now)
    if expires is None or case.resolved_at is None:
        return False
    token = secrets.token_urlsafe(TOKEN_BYTES)
    issued = IssuedToken(
        token_hash=token_hash(token),
        case_id=case.case_id,
        resolved_at=case.resolved_at,
        expires_at=expires,
        issued_at=now,
    )
    if not await uow.repository.add_evaluation_token(issued):
        return False  # this resolution has its token already
    invited = EvaluationInvited(case_id=case.case_id, token=token, expires_at=expires)
    await uow.emit(invited, topic=OVERSIGHT_INVITATIONS)
    return True


async def record_events(
    *,
    uow: OversightUnitOfWork,
    envelopes: Sequence[Envelope[ProjectedEvent]],
    now: datetime,
    policy: OversightPolicy,
) -> int:
    """Take a poll's events, of any cases and kinds, in one transaction; how many were new.

    Each becomes one entry on its case's timeline; a whistle also keeps one attendance
    row for each department it summons (吹哨报到), and an attendance report fills its row.
    """
    async with uow:
        fresh = await uow.first_deliveries(
            consumer=CONSUMER, event_ids=[envelope.id for envelope in envelopes]
        )
        taken = [e for e in {e.id: e for e in envelopes}.values() if e.id in fresh]
        for envelope in taken:
            await _record_whistle_call(uow.repository, envelope)
        if taken:
            new = [entries.from_event(e.payload, event_id=e.id, at=e.time) for e in taken]
            await project_all(uow, new, now=now, policy=policy)
    return len(taken)


async def record_event(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[ProjectedEvent],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """Take one event; False if it was taken before."""
    return bool(await record_events(uow=uow, envelopes=[envelope], now=now, policy=policy))


async def _record_whistle_call(
    repository: OversightRepository, envelope: Envelope[ProjectedEvent]
) -> None:
    event = envelope.payload
    if isinstance(event, WhistleBlown):
        for department in event.departments:
            await repository.record_whistle_call(
                whistle_id=event.whistle_id,
                department=department.value,
                case_id=event.case_id,
                township_code=event.township_code,
                blown_at=envelope.time,
                report_by=event.report_by,
            )
    elif isinstance(event, WhistleAttendanceRecorded):
        await repository.record_whistle_call(
            whistle_id=event.whistle_id,
            department=event.department.value,
            case_id=event.case_id,
            township_code=event.township_code,
            reported_at=event.reported_at,
            on_time=event.on_time,
        )
