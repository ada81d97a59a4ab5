"""Clocks for the simulated gateway (re-exported from engine.market.clock)."""

from engine.market.clock import Clock, RealClock, ScaledClock, SteppedClock, sleep_until

__all__ = ["Clock", "RealClock", "ScaledClock", "SteppedClock", "sleep_until"]
