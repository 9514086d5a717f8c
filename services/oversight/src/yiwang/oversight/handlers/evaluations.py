"""Residents' evaluations (一考双评) and how they end a case (结案 or 不满意重办), follow-up
calls (回访) and deadline extensions: what people do to a case in oversight, each checked
by the domain and projected like an event.

The HTTP route and the oversight.evaluations.v1 consumer both go through `_evaluate`, so
the same rules close, reopen or hold a case whichever way its evaluation came.
"""

from __future__ import annotations

from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, CaseReopened
from yiwang.common.sla import check_extension_allowed, policy_for
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_REOPENED
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.closing import Close, Reopen, after_evaluation, lifecycle_change
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.evaluation import check_case_known, check_evaluable
from yiwang.oversight.domain.projection import CaseProjection, EntryKind, TimelineEntry
from yiwang.oversight.handlers.projection import CONSUMER, load_case, project

RESIDENT = "resident"
OVERSIGHT = "oversight"


async def evaluate_case(
    *,
    uow: OversightUnitOfWork,
    evaluation: CaseEvaluated,
    now: datetime,
    policy: OversightPolicy,
    actor: str = RESIDENT,
) -> CaseProjection:
    """A resident's evaluation through the API (or a hotline operator recording it): only
    for a resolved case; it then closes, reopens or (mediation's) stays evaluated."""
    async with uow:
        return await _evaluate(uow, evaluation, now=now, policy=policy, source="api", actor=actor)


async def take_evaluation(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[CaseEvaluated],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """An evaluation from oversight.evaluations.v1; a refused one raises (then dead letters)."""
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await _evaluate(
            uow, envelope.payload, now=now, policy=policy, source="topic", actor=RESIDENT
        )
    return True


async def record_follow_up_call(
    *, uow: OversightUnitOfWork, call: FollowUpCall, policy: OversightPolicy
) -> CaseProjection:
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
        return await project(uow, entry, now=call.called_at, policy=policy)


async def extend_resolution_deadline(
    *,
    uow: OversightUnitOfWork,
    case_id: str,
    reason: str,
    actor: str,
    now: datetime,
    policy: OversightPolicy,
) -> CaseProjection:
    """Extend the resolution deadline once, where the policy allows it (petitions: +30 days)."""
    async with uow:
        repository = uow.repository
        await repository.lock_case(case_id)
        case = check_case_known(await load_case(repository, case_id), case_id)
        sla = policy_for(
            category=case.category,
            priority=case.priority,
            channel=case.channel,
            sla_class=case.sla_class,
        )
        extension = check_extension_allowed(sla)
        entry = TimelineEntry(
            entry_id=f"extension:{case_id}",  # once per case
            case_id=case_id,
            at=now,
            kind=EntryKind.EXTENDED,
            actor=actor,
            note=f"resolution deadline extended by {extension}: {reason}",
        )
        return await project(uow, entry, now=now, policy=policy)


async def _evaluate(
    uow: OversightUnitOfWork,
    evaluation: CaseEvaluated,
    *,
    now: datetime,
    policy: OversightPolicy,
    source: str,
    actor: str,
) -> CaseProjection:
    """Inside the caller's unit of work: check, store, emit resolved→evaluated, then close
    or reopen the case as its score says (unless mediation holds it), and project."""
    repository = uow.repository
    await repository.lock_case(evaluation.case_id)
    case = check_evaluable(await load_case(repository, evaluation.case_id), evaluation.case_id)
    note = f"satisfaction {evaluation.score}/5"
    evaluated = lifecycle_change(case, to=CaseState.EVALUATED, actor=actor, note=note, at=now)
    await repository.add_evaluation(evaluation, source=source, evaluated_at=now)
    emitted = await uow.emit(evaluated, topic=CASE_LIFECYCLE)
    new = [
        entries.from_evaluation(evaluation, at=now, actor=actor),
        entries.from_state_change(evaluated, event_id=emitted.id),
    ]
    case.state = CaseState.EVALUATED
    outcome = after_evaluation(case, score=evaluation.score)
    if isinstance(outcome, Close):
        closed = lifecycle_change(
            case, to=CaseState.CLOSED, actor=OVERSIGHT, note=outcome.note, at=now
        )
        emitted = await uow.emit(closed, topic=CASE_LIFECYCLE)
        new.append(entries.from_state_change(closed, event_id=emitted.id))
    elif isinstance(outcome, Reopen):
        reopened = CaseReopened(
            case_id=case.case_id,
            evaluation_id=evaluation.evaluation_id,
            department=outcome.department,
            to_hub=outcome.to_hub,
            rehandling=outcome.rehandling,
            reopened_at=now,
            reason=outcome.reason,
        )
        await uow.emit(reopened, topic=CASE_REOPENED)
        new.append(entries.from_reopening(reopened))
    return await project(uow, *new, now=now, policy=policy)
