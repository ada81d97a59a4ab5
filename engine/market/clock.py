"""Injectable clocks: real, scaled (accelerated virtual time) and stepped (tests).

Every clock returns timezone-aware UTC datetimes. `sleep_until` works with all of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Protocol, runtime_checkable

UTC = dt.UTC


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime: clocks deal only in timezone-aware times")
    return t.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the (possibly virtual) current time in UTC."""

    def now(self) -> dt.datetime: ...


class RealClock:
    """Wall-clock time."""

    speed: float = 1.0

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class ScaledClock:
    """Virtual time = start + (monotonic elapsed since start) × speed.

    `set_speed` keeps the current virtual time continuous; `jump_to`/`advance` move it.
    """

    def __init__(self, start: dt.datetime, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        self._base = _utc(start)
        self._mono = time.monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> dt.datetime:
        with self._lock:
            elapsed = time.monotonic() - self._mono
            return self._base + dt.timedelta(seconds=elapsed * self._speed)

    def _rebase(self, t: dt.datetime) -> None:
        self._base = t
        self._mono = time.monotonic()

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        current = self.now()
        with self._lock:
            self._rebase(current)
            self._speed = float(speed)

    def jump_to(self, t: dt.datetime) -> None:
        with self._lock:
            self._rebase(_utc(t))

    def advance(self, delta: dt.timedelta) -> None:
        current = self.now()
        with self._lock:
            self._rebase(current + delta)


class SteppedClock:
    """Time that moves only when told: `advance(delta)` or `set(t)`. For tests."""

    speed: float = 0.0

    def __init__(self, start: dt.datetime) -> None:
        self._t = _utc(start)

    def now(self) -> dt.datetime:
        return self._t

    def advance(self, delta: dt.timedelta) -> None:
        self._t = self._t + delta

    def set(self, t: dt.datetime) -> None:
        self._t = _utc(t)


async def sleep_until(clock: Clock, t: dt.datetime, *, poll: float = 0.05) -> None:
    """Sleep until `clock.now() >= t`.

    RealClock: one real sleep. ScaledClock: real sleeps of (remaining virtual / speed),
    capped at `poll` so speed changes and jumps are noticed. SteppedClock (or speed 0):
    polls every `poll` real seconds until someone advances the clock.
    """
    target = _utc(t)
    while True:
        now = clock.now()
        remaining = (target - now).total_seconds()
        if remaining <= 0:
            return
        if isinstance(clock, RealClock):
            await asyncio.sleep(remaining)
            continue
        speed = float(getattr(clock, "speed", 0.0) or 0.0)
        if speed > 0:
            await asyncio.sleep(min(remaining / speed, poll))
        else:
            await asyncio.sleep(poll)
