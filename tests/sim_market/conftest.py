"""Shared fixtures: a model on a stepped clock a few minutes before a Tuesday open."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.market.clock import SteppedClock
from engine.sim.market import MarketModel

UTC = dt.UTC
START = dt.datetime(2026, 11, 24, 14, 25, tzinfo=UTC)  # 09:25 ET, Tuesday


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(START)


@pytest.fixture
def model(clock: SteppedClock) -> MarketModel:
    return MarketModel(seed=7, clock=clock)
