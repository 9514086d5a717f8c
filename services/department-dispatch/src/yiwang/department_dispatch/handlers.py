"""Yiwang department-dispatch: use cases.

Foundation stage: this service takes its events through the common at-least-once
plumbing (inbox, dead letters), so delivery is proven end to end; its own rules
arrive with its issue.
"""

from __future__ import annotations

from typing import Any

from yiwang.common.envelope import Envelope
from yiwang.common.postgres import UnitOfWork, handle_once

CONSUMER = "department-dispatch"


async def record_routed_case(*, uow: UnitOfWork, envelope: Envelope[Any]) -> bool:
    """Take a CaseRouted once; return False if it had been taken before."""
    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id)


async def record_department_reply(*, uow: UnitOfWork, envelope: Envelope[Any]) -> bool:
    """Take a DepartmentReplied once; return False if it had been taken before."""
    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id)


async def record_oversight_alert(*, uow: UnitOfWork, envelope: Envelope[Any]) -> bool:
    """Take a OversightAlertRaised once; return False if it had been taken before."""
    return await handle_once(uow, consumer=CONSUMER, event_id=envelope.id)
