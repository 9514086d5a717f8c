"""The secrets platforms sign their Kafka submissions with: one per platform system, kept
sealed with intake's personal-data key, rotated with an overlap.

`issue-signing-secret <system>` makes the first; `rotate-signing-secret <system>
--overlap-hours N` makes a new one and lets the old ones work N hours more, so a
platform can switch without losing a record. Each is printed once, as
`<key id>:<secret>`, the credential `yiwang.intake.adapters.signing` signs with.

Verification reads the secrets of a poll's signers once, cached for CACHE_SECONDS: a
rotation's expiry takes effect within that time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from yiwang.common.personal_data import PersonalDataVault
from yiwang.intake.adapters.api_keys import check_codes

CACHE_SECONDS = 30.0
Conn = asyncpg.pool.PoolConnectionProxy | asyncpg.Connection


class SecretExists(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SigningSecret:
    signer: str
    key_id: str
    created_at: datetime
    expires_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def _context(signer: str, key_id: str) -> bytes:
    return f"signing:{signer}:{key_id}".encode()


class SigningSecretStore:
    def __init__(self, pool: Callable[[], asyncpg.Pool], vault: PersonalDataVault) -> None:
        self._pool = pool
        self._vault = vault
        self._cache: dict[str, tuple[float, dict[str, tuple[str, datetime | None]]]] = {}

    async def issue(self, signer: str, *, now: datetime) -> str:
        """The first secret of `signer`, as `<key id>:<secret>`."""
        check_codes([signer])
        async with self._pool().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", signer)
            if any(s.active(now) for s in await self._list(conn, signer)):
                raise SecretExists(
                    f"'{signer}' has a signing secret; rotate it with rotate-signing-secret"
                )
            return await self._insert(conn, signer, now=now)

    async def rotate(self, signer: str, *, now: datetime, overlap: timedelta) -> str:
        """A new secret of `signer`; the ones before it stop working after `overlap`."""
        check_codes([signer])
        async with self._pool().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", signer)
            await conn.execute(
                "UPDATE signing_secrets SET expires_at = $2 WHERE signer = $1"
                " AND (expires_at IS NULL OR expires_at > $2)",
                signer,
                now + overlap,
            )
            return await self._insert(conn, signer, now=now)

    async def listed(self, signer: str | None = None) -> list[SigningSecret]:
        async with self._pool().acquire() as conn:
            return await self._list(conn, signer)

    async def secrets_of(
        self, signers: Iterable[str], *, now: datetime
    ) -> Mapping[str, Mapping[str, str]]:
        """Each signer's secrets that work at `now`, by key id."""
        wanted = set(signers)
        fresh = time.monotonic()
        missing = [s for s in wanted if fresh - self._cache.get(s, (-1e9, {}))[0] > CACHE_SECONDS]
        if missing:
            rows = await self._pool().fetch(
                "SELECT signer, key_id, secret_sealed, expires_at FROM signing_secrets"
                " WHERE signer = ANY($1::text[])",
                missing,
            )
            found: dict[str, dict[str, tuple[str, datetime | None]]] = {s: {} for s in missing}
            for r in rows:
                secret = self._vault.open(
                    r["secret_sealed"], context=_context(r["signer"], r["key_id"])
                )
                found[r["signer"]][r["key_id"]] = (secret or "", r["expires_at"])
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache.update({s: (fresh, keys) for s, keys in found.items()})
        return {
            signer: {
                kid: secret
                for kid, (secret, expires_at) in self._cache[signer][1].items()
                if expires_at is None or expires_at > now
            }
            for signer in wanted
        }

    async def reseal(self) -> int:
        """Every secret sealed again under the vault's current key; how many changed."""
        changed = 0
        async with self._pool().acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT signer, key_id, secret_sealed FROM signing_secrets FOR UPDATE"
            )
            for r in rows:
                if self._vault.needs_reseal(r["secret_sealed"]):
                    context = _context(r["signer"], r["key_id"])
                    await conn.execute(
                        "UPDATE signing_secrets SET secret_sealed = $3"
                        " WHERE signer = $1 AND key_id = $2",
                        r["signer"],
                        r["key_id"],
                        self._vault.reseal(r["secret_sealed"], context=context),
                    )
                    changed += 1
        return changed

    async def _insert(self, conn: Conn, signer: str, *, now: datetime) -> str:
        key_id, secret = f"k{secrets.token_hex(4)}", secrets.token_urlsafe(32)
        await conn.execute(
            "INSERT INTO signing_secrets (signer, key_id, secret_sealed, created_at)"
            " VALUES ($1, $2, $3, $4)",
            signer,
            key_id,
            self._vault.seal(secret, context=_context(signer, key_id)),
            now,
        )
        self._cache.pop(signer, None)
        return f"{key_id}:{secret}"

    async def _list(self, conn: Conn, signer: str | None) -> list[SigningSecret]:
        rows = await conn.fetch(
            "SELECT signer, key_id, created_at, expires_at FROM signing_secrets"
            " WHERE $1::text IS NULL OR signer = $1 ORDER BY signer, created_at",
            signer,
        )
        return [SigningSecret(**dict(r)) for r in rows]
