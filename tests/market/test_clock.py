"""Clocks: stepped, scaled (speed, jumps) and sleep_until for each."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from engine.market.clock import Clock, RealClock, ScaledClock, SteppedClock, sleep_until

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 24, 14, 25, tzinfo=UTC)


def test_protocol_membership() -> None:
    for c in (RealClock(), ScaledClock(T0), SteppedClock(T0)):
        assert isinstance(c, Clock)
        assert c.now().tzinfo is not None


def test_stepped_clock() -> None:
    c = SteppedClock(T0)
    assert c.now() == T0
    c.advance(dt.timedelta(minutes=5))
    assert c.now() == T0 + dt.timedelta(minutes=5)
    c.set(dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    assert c.now() == dt.datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        c.set(dt.datetime(2026, 11, 25))


def test_scaled_clock_frozen_and_jumps() -> None:
    c = ScaledClock(T0, speed=0.0)
    assert c.now() == T0
    c.advance(dt.timedelta(hours=1))
    assert c.now() == T0 + dt.timedelta(hours=1)
    c.jump_to(T0 + dt.timedelta(days=1))
    assert c.now() == T0 + dt.timedelta(days=1)
    c.set_speed(1000.0)
    assert c.speed == 1000.0
    assert c.now() >= T0 + dt.timedelta(days=1)
    c.set_speed(0.0)
    frozen = c.now()
    assert c.now() == frozen
    with pytest.raises(ValueError):
        c.set_speed(-1)


def test_scaled_clock_runs_faster_than_real_time() -> None:
    c = ScaledClock(T0, speed=100_000.0)
    first = c.now()
    import time

    time.sleep(0.01)
    assert c.now() - first >= dt.timedelta(seconds=100)


async def test_sleep_until_stepped() -> None:
    c = SteppedClock(T0)
    target = T0 + dt.timedelta(hours=2)
    task = asyncio.create_task(sleep_until(c, target, poll=0.001))
    await asyncio.sleep(0.01)
    assert not task.done()
    c.advance(dt.timedelta(hours=2))
    await asyncio.wait_for(task, timeout=5)
    assert c.now() >= target


async def test_sleep_until_scaled() -> None:
    c = ScaledClock(T0, speed=36_000.0)  # 10 virtual hours per real second
    target = T0 + dt.timedelta(minutes=30)
    await asyncio.wait_for(sleep_until(c, target, poll=0.01), timeout=5)
    assert c.now() >= target


async def test_sleep_until_real_past_time_returns() -> None:
    await asyncio.wait_for(sleep_until(RealClock(), T0), timeout=1)
