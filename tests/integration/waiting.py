"""Waiting for a condition, without sleeping longer than needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    within: float = 30.0,
    every: float = 0.3,
) -> T:
    """Call `probe` until `until` holds for its result or `within` seconds passed; returns
    the last result, for the caller to assert on."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if until(result) or time.monotonic() >= deadline:
            return result
        time.sleep(every)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], object] = bool,
    within: float = 30.0,
    every: float = 0.3,
) -> T:
    """`wait_until` for a coroutine probe."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result) or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(every)
