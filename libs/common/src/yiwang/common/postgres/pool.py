"""A pool per service, pinned to the service's own schema."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or refuses us; the message says what to do."""


def mask_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn


def check_schema_name(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"schema name '{schema}' must match {SCHEMA_NAME.pattern}")
    return schema


async def connect(dsn: str, *, connect_timeout: float = 10.0) -> asyncpg.Connection:
    """One connection, or DatabaseUnavailable with a one-line reason."""
    try:
        return await asyncpg.connect(dsn, timeout=connect_timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {mask_dsn(dsn)} ({reason}); "
            "start it with 'make infra' or set DATABASE_URL to a server that accepts connections"
        ) from None


async def open_pool(
    *, dsn: str, schema: str, application_name: str, max_size: int = 10
) -> asyncpg.Pool:
    """Create the schema if needed and open a pool whose search_path is that schema."""
    check_schema_name(schema)
    conn = await connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:
        pass  # another replica created it at the same moment
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": application_name},
        reset=_reset,
    )
    assert pool is not None
    return pool


async def _reset(conn: asyncpg.Connection) -> None:
    """On release, a full reset only for a connection left inside a transaction.

    asyncpg's default costs a round trip per release (advisory unlocks, CLOSE ALL, UNLISTEN,
    RESET ALL), i.e. per transaction. Nothing here leaves session state behind: units of
    work end their transactions, the relay releases its advisory lock and the listener
    its LISTEN, and no code SETs a session setting."""
    if conn.is_in_transaction():
        await conn.reset()
