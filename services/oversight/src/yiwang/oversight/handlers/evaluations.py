"""Residents' evaluations (一考双评) and how they end a case (结案 or 不满意重办), follow-up
calls (回访) and deadline extensions: what people do to a case in oversight, each checked
by the domain and projected like an event.

The HTTP route and the oversight.evaluations.v1 consumer both go through `_evaluate`, so
the same rules close, reopen or hold a case whichever way its evaluation came. A resident
evaluates with the one-time token of the case's resolution (`domain/invitation.py`); a
hotline operator taking the evaluation on a follow-up call needs none, and is the actor.
Free text people type (comments, notes, reasons) is scrubbed of phones, ID numbers and
e-mail before it is kept.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, CaseReopened
from yiwang.common.personal_data import scrub
from yiwang.common.sla import check_extension_allowed, policy_for
from yiwang.common.states import CaseState
from yiwang.common.topics import CASE_LIFECYCLE, CASE_REOPENED
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.closing import Close, Reopen, after_evaluation, lifecycle_change
from yiwang.oversight.domain.escalation import OversightPolicy
from yiwang.oversight.domain.evaluation import check_case_known, check_evaluable
from yiwang.oversight.domain.invitation import IssuedToken, check_token, token_hash
from yiwang.oversight.domain.projection import CaseProjection, EntryKind, TimelineEntry
from yiwang.oversight.handlers.projection import CONSUMER, load_case, project

RESIDENT = "resident"
OVERSIGHT = "oversight"


def scrubbed(text: str | None) -> str | None:
    return scrub(text).text if text else text


async def evaluate_case(
    *,
    uow: OversightUnitOfWork,
    evaluation: CaseEvaluated,
    now: datetime,
    policy: OversightPolicy,
    operator: str | None = None,
) -> CaseProjection:
    """An evaluation through the API: a resident's, with the case's evaluation token, or
    one a hotline `operator` (their audit name) recorded on a follow-up call, with or
    without it. Only for a resolved case; it then closes, reopens or (mediation's) stays
    evaluated."""
    async with uow:
        return await _evaluate(
            uow,
            evaluation,
            now=now,
            policy=policy,
            source="api",
            actor=operator or RESIDENT,
            token_required=operator is None,
        )


async def take_evaluation(
    *,
    uow: OversightUnitOfWork,
    envelope: Envelope[CaseEvaluated],
    now: datetime,
    policy: OversightPolicy,
) -> bool:
    """An evaluation from oversight.evaluations.v1: a resident's, so it must carry the
    token. A refused one raises (EvaluationTokenRefused: dead-lettered at once)."""
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await _evaluate(
            uow,
            envelope.payload,
            now=now,
            policy=policy,
            source="topic",
            actor=RESIDENT,
            token_required=True,
        )
    return True


async def record_follow_up_call(
    *, uow: OversightUnitOfWork, call: FollowUpCall, now: datetime, policy: OversightPolicy
) -> FollowUpCall:
    """Keep a follow-up call (回访) record on a known case; the call as kept (its note
    scrubbed of personal data)."""
    async with uow:
        repository = uow.repository
        await repository.lock_case(call.case_id)
        check_case_known(await load_case(repository, call.case_id), call.case_id)
        call = replace(call, note=scrubbed(call.note))
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
        await project(uow, entry, now=now, policy=policy)
    return call


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
            note=f"resolution deadline extended by {extension}: {scrubbed(reason)}",
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
    token_required: bool,
) -> CaseProjection:
    """Inside the caller's unit of work: check the token (when one is required or given)
    and the case, store, emit resolved→evaluated, then close or reopen the case as its
    score says (unless mediation holds it), and project."""
    repository = uow.repository
    case_id = evaluation.case_id
    await repository.lock_case(case_id)
    found = await load_case(repository, case_id)
    token: IssuedToken | None = None
    if token_required or evaluation.token is not None:
        issued = (
            await repository.evaluation_token(case_id, token_hash(evaluation.token))
            if evaluation.token is not None
            else None
        )
        token = check_token(
            issued, found, case_id=case_id, presented=evaluation.token is not None, now=now
        )
    case = check_evaluable(found, case_id)
    evaluation = evaluation.model_copy(update={"comment": scrubbed(evaluation.comment)})
    note = f"satisfaction {evaluation.score}/5"
    evaluated = lifecycle_change(case, to=CaseState.EVALUATED, actor=actor, note=note, at=now)
    await repository.add_evaluation(evaluation, source=source, evaluated_at=now, recorded_by=actor)
    if token is not None:
        await repository.use_evaluation_token(
            token.token_hash, evaluation_id=evaluation.evaluation_id, used_at=now
        )
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
