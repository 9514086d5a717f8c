"""Outages: failures worth waiting out, because the database or the broker is briefly away.

Anything else a handler or a background job raises is a fault of the work itself: a
subscriber dead-letters its record after a few attempts, a job logs it with its traceback
and counts it. An outage never counts towards either.
"""

from __future__ import annotations

import asyncpg

OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.CannotConnectNowError,
)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGES)
