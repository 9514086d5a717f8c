"""API keys of integrating platforms, with scopes and the systems each may submit as,
stored as SHA-256 hashes.

A key reads `yw_<key_id>_<secret>`; only the hash of the whole key is stored. Verified keys
are cached for a short time so that a busy platform does not cost a query per request;
a revoked key stops working within CACHE_SECONDS.

A key belongs to a platform (`yq-12345`): it submits only as one of its systems
(`source.system`; by default the platform's own code), and reads only what its platform
submitted. To the routes it is an `Actor` with the role `platform` (`PlatformActor`).

The store asks for the pool at each call: in the service, the pool opens in its lifespan,
after the wiring built the store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from yiwang.common.auth import Actor, Role

SCOPES = frozenset({"submit", "read"})
CACHE_SECONDS = 30.0
# Platform and system codes: no ':' (a case's submitter is a platform code or
# "person:<username>", never both).
PLATFORM_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    platform: str
    scopes: frozenset[str]
    systems: tuple[str, ...] = ()

    @property
    def own_systems(self) -> frozenset[str]:
        """The systems it submits as: those stored with it, else its platform's code."""
        return frozenset(self.systems or (self.platform,))


@dataclass(frozen=True, slots=True)
class PlatformActor(Actor):
    """A platform's key, as the routes see its caller."""

    scopes: frozenset[str] = frozenset()
    systems: frozenset[str] = frozenset()

    @property
    def platform(self) -> str:
        return self.name

    @property
    def submitters(self) -> frozenset[str]:
        """Who a case it may read was submitted by: its platform or one of its systems."""
        return self.systems | {self.name}


def actor_of(key: ApiKey) -> PlatformActor:
    return PlatformActor(
        id=key.key_id,
        name=key.platform,
        roles=frozenset({Role.PLATFORM}),
        person=False,
        scopes=key.scopes,
        systems=key.own_systems,
    )


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def check_scopes(scopes: frozenset[str]) -> None:
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")


def check_codes(codes: Iterable[str]) -> None:
    for code in codes:
        if not PLATFORM_CODE.match(code):
            raise ValueError(
                f"'{code}' is not a platform or system code: lower-case letters, digits, "
                "'.', '_' and '-', up to 64"
            )


class ApiKeyStore:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def issue(
        self,
        *,
        platform: str,
        scopes: frozenset[str],
        now: datetime,
        systems: tuple[str, ...] = (),
    ) -> tuple[ApiKey, str]:
        check_scopes(scopes)
        check_codes([platform, *systems])
        key_id = secrets.token_hex(4)
        presented = f"yw_{key_id}_{secrets.token_urlsafe(24)}"
        await self._pool().execute(
            "INSERT INTO api_keys (key_id, platform, key_hash, scopes, systems, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            key_id,
            platform,
            hash_key(presented),
            sorted(scopes),
            list(systems),
            now,
        )
        return ApiKey(key_id, platform, scopes, systems), presented

    async def revoke(self, *, key_id: str, now: datetime) -> bool:
        status = await self._pool().execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
            key_id,
            now,
        )
        self._cache.clear()
        return status.endswith(" 1")

    async def list_keys(self) -> list[asyncpg.Record]:
        return list(
            await self._pool().fetch(
                "SELECT key_id, platform, scopes, systems, created_at, revoked_at FROM api_keys"
                " ORDER BY created_at"
            )
        )

    async def verify(self, presented: str) -> ApiKey | None:
        cached = self._cache.get(presented)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        key = await self._lookup(presented)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[presented] = (time.monotonic(), key)
        return key

    async def actor(self, presented: str) -> Actor | None:
        """The `ApiKeyVerifier` of the runtime's authenticator: the key's platform, or None."""
        key = await self.verify(presented)
        return actor_of(key) if key is not None else None

    async def _lookup(self, presented: str) -> ApiKey | None:
        parts = presented.split("_")
        if len(parts) < 3 or parts[0] != "yw" or len(presented) > 200:
            return None
        row = await self._pool().fetchrow(
            "SELECT key_id, platform, key_hash, scopes, systems FROM api_keys"
            " WHERE key_id = $1 AND revoked_at IS NULL",
            parts[1],
        )
        if row is None or not hmac.compare_digest(row["key_hash"], hash_key(presented)):
            return None
        return ApiKey(
            row["key_id"], row["platform"], frozenset(row["scopes"]), tuple(row["systems"])
        )
