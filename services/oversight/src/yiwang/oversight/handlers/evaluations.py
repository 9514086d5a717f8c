"""Residents' evaluations (一考双评), follow-up calls (回访) and deadline extensions: what
people do to a case in oversight, each checked by the domain and projected like an event."""

from __future__ import annotations

from datetime import datetime

from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseEvaluated, CaseStateChanged
from yiwang.common.states import CaseState, check_transition
from yiwang.common.topics import CASE_LIFECYCLE
from yiwang.oversight.adapters.repository import FollowUpCall
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain import entries
from yiwang.oversight.domain.evaluation import check_case_known, check_evaluable
from yiwang.oversight.domain.projection import CaseProjection, EntryKind, TimelineEntry
from yiwang.oversight.domain.sla import check_extension_allowed, policy_for
from yiwang.oversight.handlers.projection import CONSUMER, load_case, project


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
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        await _evaluate(uow, envelope.payload, now=now, source="topic")
    return True


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
        return await project(uow, entry, now=call.called_at)


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
        return await project(uow, entry, now=now)


async def _evaluate(
    uow: OversightUnitOfWork, evaluation: CaseEvaluated, *, now: datetime, source: str
) -> CaseProjection:
    """Inside the caller's unit of work: check, store, emit resolved→evaluated, project."""
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
    return await project(
        uow,
        entries.from_evaluation(evaluation, at=now, actor="resident"),
        entries.from_state_change(change, event_id=emitted.id),
        now=now,
    )
