"""An injectable clock, so SLA logic is testable and demo time can run fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """Runs `speed` times faster than real time from the moment it is created."""

    def __init__(self, speed: float, *, start: datetime | None = None) -> None:
        self._speed = speed
        self._start = start or datetime.now(UTC)
        self._mono = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._mono) * self._speed)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def clock_for_speed(speed: float) -> Clock:
    return SystemClock() if speed == 1.0 else ScaledClock(speed)
