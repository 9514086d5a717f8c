"""An injectable clock, so SLA logic is testable and demo time can run fast."""

from __future__ import annotations

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
    """Runs `speed` times faster than real time from `epoch` on.

    Every process given the same epoch and speed reads the same time, so services started
    seconds apart still agree on demo time (wall-clock based, not per-process).
    """

    def __init__(self, speed: float, *, epoch: datetime | None = None) -> None:
        self._speed = speed
        self._epoch = (epoch or datetime.now(UTC)).astimezone(UTC)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        return self._epoch + (real - self._epoch) * self._speed


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


def clock_for_speed(speed: float, *, epoch: datetime | None = None) -> Clock:
    return SystemClock() if speed == 1.0 else ScaledClock(speed, epoch=epoch)
