"""SQL migrations applied in order and recorded, per service schema.

The common migrations (outbox, inbox) come first, then the service's own. A migration
that was applied and then edited is refused: history is append-only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg
from yiwang.common.postgres.pool import check_schema_name

FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    source: str
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationChanged(RuntimeError):
    pass


def load_migrations(*, source: str, directory: Traversable) -> list[Migration]:
    found: list[Migration] = []
    if not directory.is_dir():
        return found
    for entry in directory.iterdir():
        match = FILE_NAME.match(entry.name)
        if entry.name.endswith(".sql") and not match:
            raise ValueError(f"migration file '{entry.name}' must be named NNNN_name.sql")
        if match:
            found.append(Migration(source, match[1], match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def common_migrations() -> list[Migration]:
    return load_migrations(source="common", directory=files("yiwang.common.postgres") / "sql")


async def apply_migrations(
    conn: asyncpg.Connection, *, schema: str, migrations: list[Migration]
) -> list[str]:
    """Apply the migrations not yet recorded in `<schema>.schema_migrations`; return their names."""
    check_schema_name(schema)
    applied_now: list[str] = []
    # One migrator per schema at a time, even with several replicas starting together.
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrations:{schema}")
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " source text NOT NULL, version text NOT NULL, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (source, version))"
        )
        rows = await conn.fetch(
            f'SELECT source, version, checksum FROM "{schema}".schema_migrations'
        )
        done = {(r["source"], r["version"]): r["checksum"] for r in rows}
        for migration in migrations:
            recorded = done.get((migration.source, migration.version))
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationChanged(
                        f"migration {migration.source}/{migration.version}_{migration.name} was "
                        f"changed after it was applied to schema '{schema}'; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(migration.sql)
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations (source, version, name, checksum)'
                    " VALUES ($1, $2, $3, $4)",
                    migration.source,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(f"{migration.source}/{migration.version}_{migration.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrations:{schema}")
    return applied_now
