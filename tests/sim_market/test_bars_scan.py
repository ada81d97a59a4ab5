"""Historical bars (incl. VIX/VIX3M) and the scanner."""

from __future__ import annotations

import datetime as dt

from engine.market.clock import SteppedClock
from engine.market.regime import classify, sma
from engine.sim.market import MarketModel

UTC = dt.UTC


def test_bars_length_and_consistency(model: MarketModel) -> None:
    end = dt.date(2026, 11, 23)
    bars = model.historical_bars("SPX", end, 260)
    assert len(bars) == 260
    assert bars[-1].date == end
    assert [b.date for b in bars] == sorted(b.date for b in bars)
    for b in bars:
        assert b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close)
    aapl = model.historical_bars("AAPL", end, 20)
    assert all(b.volume > 0 for b in aapl)
    assert model.historical_bars("SPX", end, 260) == bars  # deterministic


def test_vix_bars_and_regime(model: MarketModel) -> None:
    end = dt.date(2026, 11, 23)
    vix = model.historical_bars("VIX", end, 250)
    vix3m = model.historical_bars("VIX3M", end, 250)
    assert len(vix) == len(vix3m) == 250
    assert all(5 < b.close < 80 for b in vix)
    spx = model.historical_bars("SPX", end, 200)
    avg = sma([b.close for b in spx], 200)
    assert avg is not None
    r = classify(vix[-1].close, vix3m[-1].close, spx[-1].close, avg)
    assert r.term == "contango"
    assert r.vix_bucket in ("normal", "elevated", "very calm")


def test_bars_after_anchor_include_live_session(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    bars = model.historical_bars("AAPL", dt.date(2026, 11, 30), 5)
    assert [b.date for b in bars][-2:] == [dt.date(2026, 11, 24), dt.date(2026, 11, 25)]
    assert bars[-1].close == round(model.price("AAPL"), 2)
    assert bars[-2].close == model.settlement_price("AAPL", dt.date(2026, 11, 24))


def test_scan(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 18, 0, tzinfo=UTC))
    top_iv = model.scan("HIGH_OPT_IMP_VOLAT", 5, None, None)
    assert len(top_iv) == 5
    assert "TSLA" in top_iv
    active = model.scan("MOST_ACTIVE", 3, None, None)
    assert "NVDA" in active
    assert all(model.price(s) > 200 for s in model.scan("MOST_ACTIVE", 50, 200.0, None))
    gainers = model.scan("TOP_PERC_GAIN", 60, None, None)
    chg = [model.price(s) / model.prior_close(s) for s in gainers]
    assert chg == sorted(chg, reverse=True)
    assert model.scan("MOST_ACTIVE", 5, None, 10**12) == []
