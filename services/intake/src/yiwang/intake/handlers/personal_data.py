"""A reporter's personal data after admission: a hotline operator's call-back (the phone
unsealed, audited), the audit trail, erasure (a resident's request, the retention
period) and re-sealing under the current key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.personal_data import PersonalDataVault
from yiwang.intake import metrics
from yiwang.intake.adapters.personal_data import SEALED, SealedRow
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.domain.case import CaseView
from yiwang.intake.domain.personal_data import AccessRecord, Action, check_callable


class CaseUnknown(LookupError):
    status = 404
    field = "ref"


@dataclass(frozen=True, slots=True)
class CallBack:
    case_id: uuid.UUID
    case_number: str
    phone: str
    name_masked: str | None


async def call_back(
    *,
    uow: IntakeUnitOfWork,
    vault: PersonalDataVault,
    ref: str,
    actor: str,
    reason: str,
    now: datetime,
) -> CallBack:
    """The reporter's phone, for `actor` to call them back; the unseal audited in the same
    transaction (no phone leaves without its audit row)."""
    async with uow:
        view = await _case(uow, ref)
        reporter = await uow.personal_data.reporter_of(view.case_id)
        sealed = check_callable(reporter, view.case_number)
        assert reporter is not None
        phone = vault.open(sealed, context=reporter.reporter_id.bytes) or ""
        await uow.personal_data.record_access(
            [AccessRecord(uuid.uuid4(), view.case_id, actor, Action.UNSEAL_PHONE, reason, now)]
        )
    metrics.PERSONAL_DATA_UNSEALED.inc()
    return CallBack(view.case_id, view.case_number, phone, reporter.name_masked)


async def accesses(*, uow: IntakeUnitOfWork, ref: str) -> tuple[CaseView, list[AccessRecord]]:
    """Every unseal and erasure of a case's personal data, oldest first."""
    async with uow:
        view = await _case(uow, ref)
        return view, await uow.personal_data.accesses(view.case_id)


async def erase_case(
    *, uow: IntakeUnitOfWork, ref: str, actor: str, reason: str, now: datetime
) -> tuple[CaseView, bool]:
    """A resident's erasure request: the case's reporter's personal data and unscrubbed
    text erased, audited. False when it was erased already."""
    async with uow:
        view = await _case(uow, ref)
        erased = await uow.personal_data.erase([view.case_id], at=now)
        if erased:
            await uow.personal_data.record_access(
                [AccessRecord(uuid.uuid4(), view.case_id, actor, Action.ERASE, reason, now)]
            )
    if erased:
        metrics.PERSONAL_DATA_ERASED.labels("request").inc()
    return view, bool(erased)


async def erase_ended(
    *, uow: IntakeUnitOfWork, before: datetime, limit: int, now: datetime, reason: str
) -> int:
    """One bounded batch: the personal data of up to `limit` cases that ended (closed or
    rejected) before `before`; how many were erased (fewer than `limit`: none are left)."""
    async with uow:
        case_ids = await uow.personal_data.ended_before(before, limit=limit)
        erased = await uow.personal_data.erase(case_ids, at=now) if case_ids else []
    if erased:
        metrics.PERSONAL_DATA_ERASED.labels(reason).inc(len(erased))
    return len(case_ids)


@dataclass
class Resealed:
    rows: int = 0  # rows read
    values: int = 0  # sealed values sealed again under the current key


async def reseal(
    *, units: Callable[[], IntakeUnitOfWork], vault: PersonalDataVault, batch: int
) -> dict[str, Resealed]:
    """Every sealed value not under the vault's current key, sealed again under it: a
    batch of rows per transaction (locked while it is re-sealed), table by table."""
    counts: dict[str, Resealed] = {}
    for table in SEALED:
        counts[table] = done = Resealed()
        after: uuid.UUID | None = None
        while True:
            async with units() as uow:
                rows = await uow.personal_data.sealed(table, after=after, limit=batch)
                changed = [r for row in rows if (r := _resealed(table, row, vault)) is not None]
                if changed:
                    await uow.personal_data.reseal(table, changed)
            done.rows += len(rows)
            done.values += sum(vault.needs_reseal(v) for row in rows for v in row.values.values())
            if len(rows) < batch:
                break
            after = rows[-1].key
    return counts


def _resealed(table: str, row: SealedRow, vault: PersonalDataVault) -> SealedRow | None:
    if not any(vault.needs_reseal(v) for v in row.values.values()):
        return None
    context = seal_context(table, row.key)
    return SealedRow(
        row.key,
        {c: vault.reseal(v, context=context) if vault.needs_reseal(v) else v
         for c, v in row.values.items()},
    )  # fmt: skip


def seal_context(table: str, key: uuid.UUID) -> bytes:
    """What each table's seals are bound to: the reporter's id, or the case's."""
    return key.bytes if table == "reporters" else b"evaluation:" + key.bytes


async def _case(uow: IntakeUnitOfWork, ref: str) -> CaseView:
    view = await uow.cases.get(ref)
    if view is None:
        raise CaseUnknown(f"no case '{ref}'")
    return view
