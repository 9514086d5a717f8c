"""Intake's background jobs: personal data erased when its retention period is over.

Admission and the lifecycle view are driven by requests and records; the one thing of
intake's that waits on time is retention: the reporters' sealed personal data (and the
unscrubbed text) of cases closed or rejected longer ago than INTAKE_PII_RETENTION_DAYS
is erased, a bounded batch per transaction, counted in
`yiwang_intake_personal_data_erased_total{reason="retention"}`. The jobs every service
runs (the outbox relay, the consumer lag monitor) are the runtime's.
"""

from __future__ import annotations

from collections.abc import Callable

from yiwang.common.clock import Clock
from yiwang.common.jobs import Job, every
from yiwang.intake import handlers
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.config import IntakeSettings
from yiwang.intake.domain.personal_data import retention_cutoff


def jobs(
    *, uow: Callable[[], IntakeUnitOfWork], clock: Clock, settings: IntakeSettings
) -> list[Job]:
    async def erase_expired() -> bool:
        """One batch; True while more may be waiting."""
        now = clock.now()
        erased = await handlers.erase_ended(
            uow=uow(),
            before=retention_cutoff(now, days=settings.pii_retention_days),
            limit=settings.pii_erase_batch,
            now=now,
            reason="retention",
        )
        return erased >= settings.pii_erase_batch

    return [every("personal-data-retention", settings.pii_erase_every_seconds, erase_expired)]
