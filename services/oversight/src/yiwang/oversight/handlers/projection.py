"""The projection: events from the other services become entries on the case's timeline.

Every consumed event goes through the inbox first, and its entry, the refolded case, its
timers and any alert commit in one transaction. `project` and `raise_alert` are shared
with the other handler modules: every change to a case goes through them, with the
county's `OversightPolicy` (close and stranded timers).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseRouted,
    CaseStateChanged,
    CommandLevel,
    EvaluationInvited,
    MediationProgressed,
    OversightAlertRaised,
    RulingMade,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.topics import OVERSIGHT_ALERTS, OVERSIGHT_INVITATIONS
from yiwang.oversight.adapters.repository import OversightRepository
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
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
    """Add entries, fold the whole timeline again, and bring timers and flags in line."""
    repository = uow.repository
    case_id = new[0].case_id
    await repository.lock_case(case_id)
    for entry in new:
        await repository.add_entry(entry)
    case = fold(case_id, await repository.timeline(case_id))
    await repository.save_case(case)
    await repository.sync_timers(case_id, timers_for(case, policy=policy))
    if is_bounced(case):
        bounced = OversightAlertRaised(
            case_id=case_id,
            alert_id=f"bounced:{case_id}",
            kind=AlertKind.BOUNCED,
            command_level=CommandLevel.COUNTY,
            department=case.lead_department,
            reason=f"returned {case.return_count} times (by {', '.join(case.returned_by)}); "
            "the county hub must arbitrate responsibility",
        )
        await raise_alert(uow, bounced, case=case, now=now)
    await invite_evaluation(uow, case, now=now, policy=policy)
    return case


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


async def record_state_change(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[CaseStateChanged],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """Take one lifecycle entry; False if it was taken before."""
    entry = entries.from_state_change(envelope.payload, event_id=envelope.id)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await project(uow, entry, now=now, policy=policy)
    return True


async def record_routing(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[CaseRouted],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    entry = entries.from_routing(envelope.payload, event_id=envelope.id, at=envelope.time)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await project(uow, entry, now=now, policy=policy)
    return True


async def record_mediation_progress(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[MediationProgressed],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    entry = entries.from_mediation(envelope.payload, event_id=envelope.id, at=envelope.time)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await project(uow, entry, now=now, policy=policy)
    return True


async def record_whistle_blown(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[WhistleBlown],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """A whistle (吹哨) summons departments: one attendance record for each to report on."""
    whistle = envelope.payload
    entry = entries.from_whistle_blown(whistle, event_id=envelope.id, at=envelope.time)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        for department in whistle.departments:
            await uow.repository.record_whistle_call(
                whistle_id=whistle.whistle_id,
                department=department.value,
                case_id=whistle.case_id,
                township_code=whistle.township_code,
                blown_at=envelope.time,
                report_by=whistle.report_by,
            )
        await project(uow, entry, now=now, policy=policy)
    return True


async def record_whistle_attendance(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[WhistleAttendanceRecorded],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    attendance = envelope.payload
    entry = entries.from_whistle_attendance(attendance, event_id=envelope.id, at=envelope.time)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await uow.repository.record_whistle_call(
            whistle_id=attendance.whistle_id,
            department=attendance.department.value,
            case_id=attendance.case_id,
            township_code=attendance.township_code,
            reported_at=attendance.reported_at,
            on_time=attendance.on_time,
        )
        await project(uow, entry, now=now, policy=policy)
    return True


async def record_ruling(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[RulingMade],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """The county hub's final ruling (终审): the department it names leads the case."""
    entry = entries.from_ruling(envelope.payload, event_id=envelope.id)
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await project(uow, entry, now=now, policy=policy)
    return True
