"""API keys per integrating platform, with scopes, stored as SHA-256 hashes.

A key reads `yw_<key_id>_<secret>`; only the hash of the whole key is stored. Verified keys
are cached for a short time so that a busy platform does not cost a query per request;
a revoked key stops working within CACHE_SECONDS.

The store asks for the pool at each call: in the service, the pool opens in its lifespan,
after the wiring built the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

SCOPES = frozenset({"submit", "read"})
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    platform: str
    scopes: frozenset[str]


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def check_scopes(scopes: frozenset[str]) -> None:
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")


class ApiKeyStore:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def issue(
        self, *, platform: str, scopes: frozenset[str], now: datetime
    ) -> tuple[ApiKey, str]:
        check_scopes(scopes)
        key_id = secrets.token_hex(4)
        presented = f"yw_{key_id}_{secrets.token_urlsafe(24)}"
        await self._pool().execute(
            "INSERT INTO api_keys (key_id, platform, key_hash, scopes, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            key_id,
            platform,
            hash_key(presented),
            sorted(scopes),
            now,
        )
        return ApiKey(key_id, platform, scopes), presented

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
                "SELECT key_id, platform, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at"
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

    async def _lookup(self, presented: str) -> ApiKey | None:
        parts = presented.split("_")
        if len(parts) < 3 or parts[0] != "yw":
            return None
        row = await self._pool().fetchrow(
            "SELECT key_id, platform, key_hash, scopes FROM api_keys"
            " WHERE key_id = $1 AND revoked_at IS NULL",
            parts[1],
        )
        if row is None or not hmac.compare_digest(row["key_hash"], hash_key(presented)):
            return None
        return ApiKey(row["key_id"], row["platform"], frozenset(row["scopes"]))
