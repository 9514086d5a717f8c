"""API keys of departments and townships: who a key belongs to, issuing and revoking."""

from __future__ import annotations

import secrets

from yiwang.common.auth import Actor, Role
from yiwang.department_dispatch.adapters.unit_of_work import DispatchUnitOfWork
from yiwang.department_dispatch.domain.credentials import hash_api_key, parse_principal

KEY_PREFIX = "ywk_"
MAX_KEY_LENGTH = 512  # ours are 47 characters; anything far longer is not worth a lookup


async def identify_api_key(*, uow: DispatchUnitOfWork, api_key: str | None) -> str | None:
    """The principal (a department code or township:<code>) an API key belongs to."""
    if not api_key or len(api_key) > MAX_KEY_LENGTH:
        return None
    async with uow:
        return await uow.dispatch.principal_for_key(hash_api_key(api_key))


async def actor_for_api_key(*, uow: DispatchUnitOfWork, api_key: str) -> Actor | None:
    """The machine a presented key belongs to (the service's ApiKeyVerifier): a department
    system bound to its department, or a township system bound to its township."""
    principal = await identify_api_key(uow=uow, api_key=api_key)
    parsed = parse_principal(principal) if principal else None
    if parsed is None:
        return None
    key_id = f"key:{hash_api_key(api_key)[:16]}"
    if parsed.department is not None:
        return Actor(
            id=key_id,
            name=parsed.department.value,
            roles=frozenset({Role.DEPARTMENT_SYSTEM}),
            person=False,
            department=parsed.department.value,
        )
    return Actor(
        id=key_id,
        name=str(parsed.township_code),
        roles=frozenset({Role.TOWNSHIP_SYSTEM}),
        person=False,
        township_code=parsed.township_code,
    )


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
