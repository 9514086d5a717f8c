"""Case numbers of the day, reserved outside the case's transaction.

The day's counter row would otherwise stay locked until each submission commits, and
every submission in the county would queue behind it. Reserved on its own, a number that
belongs to a submission which then fails is skipped: numbers are unique and increasing,
not gapless.

The issuer asks for the pool at each call: it opens in the service's lifespan, after wiring.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import date

import asyncpg


class CaseNumberIssuer(abc.ABC):
    @abc.abstractmethod
    async def reserve(self, day: date, count: int) -> range:
        """`count` sequence numbers of the day, in one step: a batch takes its lot at once."""


class PostgresCaseNumberIssuer(CaseNumberIssuer):
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def reserve(self, day: date, count: int) -> range:
        last = int(
            await self._pool().fetchval(
                "INSERT INTO case_number_sequences (day, last_seq) VALUES ($1, $2)"
                " ON CONFLICT (day) DO UPDATE SET last_seq = case_number_sequences.last_seq + $2"
                " RETURNING last_seq",
                day,
                count,
            )
        )
        return range(last - count + 1, last + 1)
