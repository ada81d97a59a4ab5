"""The regime guard: a pure decision on a reading, with its reason."""

from __future__ import annotations

import datetime as dt

import pytest

from config.models import RegimeGuardConfig
from engine.market.regime import RegimeReading, reading_from_closes
from engine.selection.regime_guard import regime_guard

T = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
UP = [5000.0 + i for i in range(250)]
DOWN = [6000.0 - i for i in range(250)]


def reading(vix: float, vix3m: float | None = 20.0, spx: list[float] = UP) -> RegimeReading:
    r = reading_from_closes([vix], [] if vix3m is None else [vix3m], spx, T)
    assert r is not None
    return r


ON = RegimeGuardConfig(enabled=True)


def test_off_never_blocks_even_without_data() -> None:
    assert regime_guard(None, RegimeGuardConfig(), T) is None
    assert regime_guard(reading(80.0, 40.0, DOWN), RegimeGuardConfig(), T) is None


def test_on_without_a_reading_refuses_and_says_why() -> None:
    why = regime_guard(None, ON, T, why_missing="not connected to IBKR")
    assert why is not None and why.code == "regime.unknown"
    assert "not connected to IBKR" in why.text and "nothing new" in why.text


def test_an_old_reading_counts_as_missing() -> None:
    old = T + dt.timedelta(minutes=2 * ON.max_age_min + 1)
    why = regime_guard(reading(15.0), ON, old)
    assert why is not None and why.code == "regime.unknown" and "min old" in why.text
    assert regime_guard(reading(15.0), ON, T + dt.timedelta(minutes=ON.max_age_min)) is None


@pytest.mark.parametrize(
    ("vix", "vix3m", "spx", "cfg", "code"),
    [
        (30.0, 35.0, UP, ON, "regime.vix"),  # at the limit refuses
        (29.99, 35.0, UP, ON, None),
        (25.0, 22.0, UP, ON, "regime.backwardation"),
        (25.0, 22.0, UP, RegimeGuardConfig(enabled=True, block_backwardation=False), None),
        (15.0, 18.0, DOWN, ON, None),  # a downtrend is allowed by default
        (
            15.0,
            18.0,
            DOWN,
            RegimeGuardConfig(enabled=True, block_downtrend=True),
            "regime.downtrend",
        ),
        (15.0, None, UP, ON, "regime.unknown"),  # backwardation blocked but no VIX3M
        (15.0, None, UP, RegimeGuardConfig(enabled=True, block_backwardation=False), None),
        (
            15.0,
            18.0,
            UP[:100],
            RegimeGuardConfig(enabled=True, block_downtrend=True),
            "regime.unknown",
        ),
        (45.0, 40.0, DOWN, RegimeGuardConfig(enabled=True, block_downtrend=True), "regime.vix"),
    ],
)
def test_rules(
    vix: float, vix3m: float | None, spx: list[float], cfg: RegimeGuardConfig, code: str | None
) -> None:
    why = regime_guard(reading(vix, vix3m, spx), cfg, T)
    assert (why.code if why else None) == code
    if why is not None:
        assert why.text.startswith("regime guard: ")
