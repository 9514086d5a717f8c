"""What the native API and Open311 read: a case with its timeline (and, for those who
hand it to the resident, its evaluation token), a filtered list, and the case behind an
Open311 token."""

from __future__ import annotations

from datetime import datetime

from yiwang.common.personal_data import PersonalDataVault
from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.callers import Reader
from yiwang.intake.domain.case import CaseView, open_evaluation
from yiwang.intake.handlers.personal_data import seal_context


async def get_case(
    *,
    uow: IntakeUnitOfWork,
    ref: str,
    reader: Reader | None = None,
    vault: PersonalDataVault | None = None,
    now: datetime | None = None,
) -> CaseView | None:
    """By case number or case id; None when there is none `reader` may read. With a
    reader who sees evaluations (and the vault to open them), its open evaluation token."""
    async with uow:
        view = await uow.cases.get(ref)
        if view is None or (reader is not None and not reader.may_read(view.submitted_by)):
            return None
        if reader is not None and reader.evaluations and vault is not None and now is not None:
            invitation = await uow.personal_data.invitation(view.case_id)
            if invitation is not None:
                context = seal_context("evaluation_tokens", view.case_id)
                token = vault.open(invitation[0], context=context)
                view.evaluation = open_evaluation(view.state, token, invitation[1], now=now)
        return view


async def list_cases(*, uow: IntakeUnitOfWork, case_filter: CaseFilter) -> list[CaseView]:
    async with uow:
        return await uow.cases.find(case_filter)


async def case_for_token(*, uow: IntakeUnitOfWork, token: str) -> str | None:
    """The case number an Open311 token stands for."""
    async with uow:
        return await uow.cases.case_for_token(token)
