"""The bootstrap of every operator command: migrate, open the pool, run, close.

    def main(argv=None) -> int:
        args = parser.parse_args(argv)
        return run_command(DEFINITION, lambda ctx: issue_key(ctx, args.platform))

A missing database is one line that says what to do (exit 2); a refusal the command
raises as `CommandRefused` is one line too (exit 1); the command's own return value is
the exit code otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from yiwang.common.clock import Clock, clock_for_speed
from yiwang.common.logs import configure_logging
from yiwang.common.postgres import DatabaseUnavailable, open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.postgres.pool import connect
from yiwang.common.postgres.unit_of_work import U, UnitOfWorkFactory
from yiwang.common.runtime import ServiceDefinition, service_migrations
from yiwang.common.settings import CommonSettings
from yiwang.common.working_days import (
    CalendarFileInvalid,
    calendar_from,
    install_calendar,
    local_date,
)


class CommandRefused(Exception):
    """What an operator asked cannot be done; the message says why."""


@dataclass(frozen=True)
class CommandContext:
    definition: ServiceDefinition
    settings: CommonSettings
    pool: asyncpg.Pool
    clock: Clock

    def units_of_work(self, kind: type[U]) -> UnitOfWorkFactory[U]:
        return UnitOfWorkFactory(
            kind,
            pool=lambda: self.pool,
            source=f"/yiwang/{self.definition.name}",
            clock=self.clock,
            topic_prefix=self.settings.topic_prefix,
        )


Command = Callable[[CommandContext], Awaitable[int]]


def run_command(definition: ServiceDefinition, command: Command, *, pool_size: int = 2) -> int:
    """Run one operator command against the service's database; its exit code."""
    settings = definition.settings_factory()
    configure_logging(
        service=definition.name, level=settings.log_level, fmt="console", stream=sys.stderr
    )
    clock = clock_for_speed(settings.clock_speed, epoch=settings.clock_epoch)
    try:
        install_calendar(calendar_from(settings.calendar_paths(), today=local_date(clock.now())))
    except CalendarFileInvalid as exc:
        print(f"yiwang-{definition.name}: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        conn = await connect(settings.database_url)
        try:
            await apply_migrations(
                conn, schema=definition.schema, migrations=service_migrations(definition)
            )
        finally:
            await conn.close()
        pool = await open_pool(
            dsn=settings.database_url,
            schema=definition.schema,
            application_name=f"yiwang-{definition.name}-cli",
            max_size=pool_size,
        )
        try:
            return await command(CommandContext(definition, settings, pool, clock))
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except DatabaseUnavailable as exc:
        print(f"yiwang-{definition.name}: {exc}", file=sys.stderr)
        return 2
    except CommandRefused as exc:
        print(f"yiwang-{definition.name}: {exc}", file=sys.stderr)
        return 1
