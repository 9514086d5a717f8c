"""Postgres plumbing on asyncpg: pool and schema per service, migrations, outbox, inbox."""

from yiwang.common.postgres.arrays import text_array
from yiwang.common.postgres.pool import DatabaseUnavailable, mask_dsn, open_pool
from yiwang.common.postgres.unit_of_work import (
    PostgresUnitOfWork,
    UnitOfWork,
    UnitOfWorkFactory,
    Write,
)

__all__ = [
    "DatabaseUnavailable",
    "PostgresUnitOfWork",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "Write",
    "mask_dsn",
    "open_pool",
    "text_array",
]
