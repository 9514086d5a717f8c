"""Case numbers of the day, reserved outside the case's transaction.

The day's counter row would otherwise stay locked until each submission commits, and
every submission in the county would queue behind it. Reserved on its own, a number that
belongs to a submission which then fails is skipped: numbers are unique and increasing,
not gapless.
"""

from __future__ import annotations

import abc
from datetime import date

import asyncpg


class CaseNumberIssuer(abc.ABC):
    @abc.abstractmethod
    async def next(self, day: date) -> int: ...


class PostgresCaseNumberIssuer(CaseNumberIssuer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def next(self, day: date) -> int:
        return int(
            await self._pool.fetchval(
                "INSERT INTO case_number_sequences (day, last_seq) VALUES ($1, 1)"
                " ON CONFLICT (day) DO UPDATE SET last_seq = case_number_sequences.last_seq + 1"
                " RETURNING last_seq",
                day,
            )
        )
