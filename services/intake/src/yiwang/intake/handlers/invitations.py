"""Oversight's evaluation invitations: a resolved case's one-time token, kept sealed for
the platform that submitted the case and for hotline operators to hand to the resident."""

from __future__ import annotations

import uuid

from yiwang.common.envelope import Envelope
from yiwang.common.events import EvaluationInvited
from yiwang.common.personal_data import PersonalDataVault
from yiwang.intake.adapters.unit_of_work import IntakeUnitOfWork
from yiwang.intake.handlers.personal_data import seal_context

CONSUMER = "intake:invitations"


async def record_invitation(
    *, uow: IntakeUnitOfWork, envelope: Envelope[EvaluationInvited], vault: PersonalDataVault
) -> bool:
    """Keep the token of a case intake opened (the newest invitation wins); False for a
    redelivery or another platform's case."""
    invited = envelope.payload
    try:
        case_id = uuid.UUID(invited.case_id)
    except ValueError:
        return False  # not a case intake opened
    async with uow:
        if not await uow.first_delivery(consumer=CONSUMER, event_id=envelope.id):
            return False
        sealed = vault.seal(invited.token, context=seal_context("evaluation_tokens", case_id))
        assert sealed is not None
        return await uow.personal_data.store_invitation(
            case_id, sealed, expires_at=invited.expires_at, at=envelope.time
        )
