"""Clocks for the simulated gateway (re-exported from engine.market.clock), and where a
demo's simulated day starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.market.clock import Clock, RealClock, ScaledClock, SteppedClock, sleep_until

__all__ = [
    "Clock",
    "RealClock",
    "ScaledClock",
    "SteppedClock",
    "demo_clock",
    "demo_start",
    "sleep_until",
]


def demo_start(
    now: dt.datetime, start: str, minutes_before_open: float, saved: dt.datetime | None
) -> dt.datetime:
    """`minutes_before_open` before the next NYSE open (now while the market is open), or
    now with `start="now"`; never before `saved`, the simulated time a saved state reached
    (a restarted simulator goes on from there: its orders and fills never lie ahead)."""
    if start == "now":
        t = now
    else:
        from engine.market.calendar import MarketCalendar

        cal = MarketCalendar()
        t = now if cal.is_open(now) else cal.next_open(now)
        if t is not now:
            t = t - dt.timedelta(minutes=minutes_before_open)
    return saved if saved is not None and saved > t else t


def demo_clock(
    start: str, minutes_before_open: float, speed: float, state_file: Path | None
) -> Clock:
    """The demo's clock: real time from `demo_start` at `speed` (the state file's saved
    simulated time, if any, keeps it from running backwards)."""
    from engine.sim.state import saved_sim_time

    now = dt.datetime.now(dt.UTC)
    saved = saved_sim_time(state_file) if state_file is not None else None
    return ScaledClock(demo_start(now, start, minutes_before_open, saved), speed)
