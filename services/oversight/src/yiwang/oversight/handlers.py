"""Oversight's use cases: one short function each, keyword-only arguments.

Every consumed event goes through the inbox (handle_once) and every effect, alert and
lifecycle event of one use case commits in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yiwang.common.envelope import Envelope
from yiwang.common.events import (
    AlertKind,
    CaseEvaluated,
    CaseRouted,
    CaseStateChanged,
    CommandLevel,
    MediationProgressed,
    OversightAlertRaised,
    WhistleAttendanceRecorded,
    WhistleBlown,
)
from yiwang.common.postgres import handle_once
from yiwang.common.states import CaseState, check_transition
from yiwang.common.topics import CASE_LIFECYCLE, OVERSIGHT_ALERTS
from yiwang.oversight.adapters.repository import FollowUpCall, OversightRepository
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.escalation import (
    STAGE_ALERTS,
    describe_timer,
    is_bounced,
    timers_for,
)
from yiwang.oversight.domain.evaluation import check_case_known, check_evaluable
from yiwang.oversight.domain.projection import (
    CaseProjection,
    EntryKind,
    TimelineEntry,
    fold,
)
from yiwang.oversight.domain.sla import check_extension_allowed, policy_for
from yiwang.oversight.metrics import ALERTS_RAISED

CONSUMER = "oversight"
ACTOR = "oversight"


async def load_case(repository: OversightRepository, case_id: str) -> CaseProjection | None:
    timeline = await repository.timeline(case_id)
    return fold(case_id, timeline) if timeline else None


async def _raise_alert(
    uow: OversightUnitOfWork, alert: OversightAlertRaised, *, case: CaseProjection, now: datetime
) -> bool:
    repository = uow.repository
    if not await repository.add_alert(alert, township_code=case.township_code, raised_at=now):
        return False
    await repository.add_entry(entries.from_alert(alert, at=now))
    await uow.emit(alert, topic=OVERSIGHT_ALERTS)
    ALERTS_RAISED.labels(alert.kind.value, alert.command_level.value).inc()
    return True


async def _project(uow: OversightUnitOfWork, *new: TimelineEntry, now: datetime) -> CaseProjection:
    """Add entries, fold the whole timeline again, and bring timers and flags in line."""
    repository = uow.repository
    case_id = new[0].case_id
    await repository.lock_case(case_id)
    for entry in new:
        await repository.add_entry(entry)
    case = fold(case_id, await repository.timeline(case_id))
    await repository.save_case(case)
    await repository.sync_timers(case_id, timers_for(case))
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
        await _raise_alert(uow, bounced, case=case, now=now)
    return case


async def _project_once(
    uow: OversightUnitOfWork, *, event_id: str, entry: TimelineEntry, now: datetime, **whistle: Any
) -> bool:
    async def effects(_: object) -> None:
        if whistle:
            await uow.repository.record_whistle_call(case_id=entry.case_id, **whistle)
        await _project(uow, entry, now=now)

    return await handle_once(uow, consumer=CONSUMER, event_id=event_id, effects=effects)


async def record_state_change(
    *, uow: OversightUnitOfWork, envelope: Envelope[CaseStateChanged], now: datetime
) -> bool:
    """Take one lifecycle entry; False if it was taken before."""
    entry = entries.from_state_change(envelope.payload, event_id=envelope.id)
    return await _project_once(uow, event_id=envelope.id, entry=entry, now=now)


async def record_routing(
    *, uow: OversightUnitOfWork, envelope: Envelope[CaseRouted], now: datetime
) -> bool:
    entry = entries.from_routing(envelope.payload, event_id=envelope.id, at=envelope.time)
    return await _project_once(uow, event_id=envelope.id, entry=entry, now=now)


async def record_mediation_progress(
    *, uow: OversightUnitOfWork, envelope: Envelope[MediationProgressed], now: datetime
) -> bool:
    entry = entries.from_mediation(envelope.payload, event_id=envelope.id, at=envelope.time)
    return await _project_once(uow, event_id=envelope.id, entry=entry, now=now)


async def record_whistle_blown(
    *, uow: OversightUnitOfWork, envelope: Envelope[WhistleBlown], now: datetime
) -> bool:
    whistle = envelope.payload
    entry = entries.from_whistle_blown(whistle, event_id=envelope.id, at=envelope.time)

    async def effects(_: object) -> None:
        for department in whistle.departments:
            await uow.repository.record_whistle_call(
                whistle_id=whistle.whistle_id,
                department=department.value,
                case_id=whistle.case_id,
                township_code=whistle.township_code,
                blown_at=envelope.time,
                report_by=whistle.report_by,
            )
        await _project(uow, entry, now=now)

    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=effects)


async def record_whistle_attendance(
    *, uow: OversightUnitOfWork, envelope: Envelope[WhistleAttendanceRecorded], now: datetime
) -> bool:
    attendance = envelope.payload
    entry = entries.from_whistle_attendance(attendance, event_id=envelope.id, at=envelope.time)
    return await _project_once(
        uow,
        event_id=envelope.id,
        entry=entry,
        now=now,
        whistle_id=attendance.whistle_id,
        department=attendance.department.value,
        township_code=attendance.township_code,
        reported_at=attendance.reported_at,
        on_time=attendance.on_time,
    )


async def _evaluate(
    uow: OversightUnitOfWork, evaluation: CaseEvaluated, *, now: datetime, source: str
) -> CaseProjection:
    repository = uow.repository
    await repository.lock_case(evaluation.case_id)
    case = check_evaluable(await load_case(repository, evaluation.case_id), evaluation.case_id)
    assert case.state is not None  # check_evaluable: it is resolved
    check_transition(case_id=case.case_id, current=case.state, target=CaseState.EVALUATED)
    await repository.add_evaluation(evaluation, source=source, evaluated_at=now)
    change = CaseStateChanged(
        case_id=case.case_id,
        case_number=case.case_number,
        from_state=case.state,
        to_state=CaseState.EVALUATED,
        actor="resident",
        note=f"satisfaction {evaluation.score}/5",
        at=now,
        department=case.lead_department,
        township_code=case.township_code,
        category=case.category,
    )
    emitted = await uow.emit(change, topic=CASE_LIFECYCLE)
    return await _project(
        uow,
        entries.from_evaluation(evaluation, at=now, actor="resident"),
        entries.from_state_change(change, event_id=emitted.id),
        now=now,
    )


async def evaluate_case(
    *, uow: OversightUnitOfWork, evaluation: CaseEvaluated, now: datetime
) -> CaseProjection:
    """A resident's evaluation through the API: only for a resolved case (resolved→evaluated)."""
    async with uow:
        return await _evaluate(uow, evaluation, now=now, source="api")


async def take_evaluation(
    *, uow: OversightUnitOfWork, envelope: Envelope[CaseEvaluated], now: datetime
) -> bool:
    """An evaluation from oversight.evaluations.v1; a refused one raises (then dead letters)."""

    async def effects(_: object) -> None:
        await _evaluate(uow, envelope.payload, now=now, source="topic")

    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id, effects=effects)


async def record_follow_up_call(*, uow: OversightUnitOfWork, call: FollowUpCall) -> CaseProjection:
    """Keep a follow-up call (回访) record on a known case."""
    async with uow:
        repository = uow.repository
        await repository.lock_case(call.case_id)
        check_case_known(await load_case(repository, call.case_id), call.case_id)
        await repository.add_follow_up_call(call)
        entry = TimelineEntry(
            entry_id=f"call:{call.call_id}",
            case_id=call.case_id,
            at=call.called_at,
            kind=EntryKind.FOLLOW_UP_CALL,
            actor=call.operator,
            note=call.note,
            attrs={"reached": call.reached, "satisfied": call.satisfied},
        )
        return await _project(uow, entry, now=call.called_at)


async def extend_resolution_deadline(
    *, uow: OversightUnitOfWork, case_id: str, reason: str, actor: str, now: datetime
) -> CaseProjection:
    """Extend the resolution deadline once, where the policy allows it (petitions: +30 days)."""
    async with uow:
        repository = uow.repository
        await repository.lock_case(case_id)
        case = check_case_known(await load_case(repository, case_id), case_id)
        policy = policy_for(category=case.category, priority=case.priority, channel=case.channel)
        extension = check_extension_allowed(policy)
        entry = TimelineEntry(
            entry_id=f"extension:{case_id}",  # once per case
            case_id=case_id,
            at=now,
            kind=EntryKind.EXTENDED,
            actor=actor,
            note=f"resolution deadline extended by {extension}: {reason}",
        )
        return await _project(uow, entry, now=now)


async def fire_due_timers(
    *, uow: OversightUnitOfWork, now: datetime, replica: str, limit: int = 100
) -> int:
    """Fire the timers due by `now`, each exactly once; return how many raised an alert.

    A timer is claimed with FOR UPDATE SKIP LOCKED and marked fired in the transaction
    that writes its alert to the outbox: another replica skips it, and after a crash
    either both happened or neither did.
    """
    raised = 0
    async with uow:
        repository = uow.repository
        for due in await repository.claim_due_timers(now=now, limit=limit):
            spec = due.spec
            if not await repository.try_lock_case(spec.case_id):
                continue  # the case is being projected: its timers may change; next tick
            case = await load_case(repository, spec.case_id)
            still_wanted = case is not None and spec.key in {t.key for t in timers_for(case)}
            if case is None or not still_wanted:
                await repository.mark_fired(due.id, now=now, by=replica, outcome="stopped")
                continue
            kind, level = STAGE_ALERTS[spec.stage]
            department = case.lead_department
            alert = OversightAlertRaised(
                case_id=spec.case_id,
                alert_id=f"timer:{due.id}",
                kind=kind,
                command_level=level,
                department=department,
                deadline=spec.deadline,
                reason=describe_timer(spec, department=department.value if department else None),
            )
            await repository.mark_fired(due.id, now=now, by=replica, outcome="alerted")
            raised += int(await _raise_alert(uow, alert, case=case, now=now))
    return raised
