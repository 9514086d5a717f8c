"""What the native API and Open311 read: a case with its timeline, a filtered list, and the
case behind an Open311 token."""

from __future__ import annotations

from yiwang.intake.adapters.repository import CaseFilter
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.case import CaseView


async def get_case(*, uow: IntakeUnitOfWork, ref: str) -> CaseView | None:
    """By case number or case id."""
    async with uow:
        return await uow.cases.get(ref)


async def list_cases(*, uow: IntakeUnitOfWork, case_filter: CaseFilter) -> list[CaseView]:
    async with uow:
        return await uow.cases.find(case_filter)


async def case_for_token(*, uow: IntakeUnitOfWork, token: str) -> str | None:
    """The case number an Open311 token stands for."""
    async with uow:
        return await uow.cases.case_for_token(token)
