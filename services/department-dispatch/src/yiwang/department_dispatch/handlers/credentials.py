"""API keys of departments and townships: who a key belongs to, issuing and revoking."""

from __future__ import annotations

import secrets

from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.credentials import hash_api_key

KEY_PREFIX = "ywk_"


async def identify_api_key(*, uow: DispatchUnitOfWork, api_key: str | None) -> str | None:
    """The principal (a department code or township:<code>) an API key belongs to."""
    if not api_key:
        return None
    async with uow:
        return await uow.dispatch.principal_for_key(hash_api_key(api_key))


async def issue_api_key(*, uow: DispatchUnitOfWork, principal: str) -> str:
    """A new key for the principal; shown once, only its hash is stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with uow:
        await uow.dispatch.add_api_key(hash_api_key(key), principal=principal)
    return key


async def revoke_api_keys(*, uow: DispatchUnitOfWork, principal: str) -> int:
    """Revoke every active key of the principal; how many there were."""
    async with uow:
        return await uow.dispatch.revoke_api_keys(principal)
