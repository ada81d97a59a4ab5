"""Underlying paths: determinism, market hours, gaps, overrides, index relationships."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from engine.market.clock import SteppedClock
from engine.sim.market import MarketModel

from .conftest import START

UTC = dt.UTC
SYMS = ["SPX", "XSP", "SPY", "VIX", "VIX3M", "AAPL", "F", "XOM"]


def _walk(seed: int) -> list[float]:
    c = SteppedClock(START)
    m = MarketModel(seed=seed, clock=c)
    out = []
    for _ in range(6):
        out.extend(m.price(s) for s in SYMS)
        c.advance(dt.timedelta(minutes=47))
    return out


def test_deterministic_for_a_seed() -> None:
    assert _walk(11) == _walk(11)
    assert _walk(11) != _walk(12)


def test_levels_are_realistic(model: MarketModel) -> None:
    spx = model.price("SPX")
    assert 5000 < spx < 7000
    assert model.price("XSP") == pytest.approx(spx / 10, rel=1e-6)
    assert model.price("SPY") == pytest.approx(spx / 10, rel=0.01)
    vix, vix3m = model.price("VIX"), model.price("VIX3M")
    assert 12 < vix < 22
    assert vix3m > vix


def test_constant_while_closed_and_moving_while_open(
    clock: SteppedClock, model: MarketModel
) -> None:
    before = model.price("AAPL")
    clock.advance(dt.timedelta(minutes=4))  # 09:29 ET, still closed
    assert model.price("AAPL") == before
    clock.set(dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 10:00 ET
    a = model.price("AAPL")
    clock.advance(dt.timedelta(minutes=30))
    assert model.price("AAPL") != a
    # overnight: price at 20:00 ET equals the 16:00 close, and the next open gaps
    close_t = dt.datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert model.price("AAPL", close_t) == model.price("AAPL", close_t + dt.timedelta(hours=4))
    nxt_open = dt.datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    assert model.price("AAPL", nxt_open) != model.price("AAPL", close_t)


def test_stocks_find_the_gap_in_the_premarket(model: MarketModel) -> None:
    """From 04:00 ET a stock moves from the last close toward the gapped open level, which it
    reaches at 09:00 ET (a 09:28 Stage 2 sees it); indices wait for the open."""
    close_t = dt.datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # Tue 16:00 ET
    at = {h: dt.datetime(2026, 11, 25, h, m, tzinfo=UTC) for h, m in ((9, 0), (11, 0), (14, 0))}
    nxt_open = dt.datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # Wed 09:30 ET
    for sym in ("AAPL", "XOM", "F"):
        last, gapped = model.price(sym, close_t), model.price(sym, nxt_open)
        assert model.price(sym, at[9]) == last  # 04:00 ET: nothing yet
        mid = model.price(sym, at[11])  # 06:00 ET: two fifths of the way
        assert mid == pytest.approx(last + 0.4 * (gapped - last), rel=2e-3)
        assert model.price(sym, at[14]) == pytest.approx(gapped, abs=1e-3)  # 09:00 ET
    for sym in ("SPX", "SPY", "VIX"):
        assert model.price(sym, at[14]) == model.price(sym, close_t)
        assert model.price(sym, nxt_open) != model.price(sym, close_t)


def test_overnight_gap_and_selloff(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    p = model.price("NVDA")
    model.apply_gap("NVDA", -0.10)
    assert model.price("NVDA") == pytest.approx(p * 0.9, rel=1e-6)
    model.set_price("AAPL", 150.0)
    assert model.price("AAPL") == pytest.approx(150.0, abs=1e-3)
    clock.advance(dt.timedelta(minutes=10))
    assert model.price("AAPL") == pytest.approx(150.0, rel=0.03)  # path continues from there
    # an index sell-off lifts VIX above VIX3M (backwardation) and moves XSP/SPY too
    vix = model.price("VIX")
    spx = model.price("SPX")
    model.set_price("XSP", spx / 10 * 0.88)
    assert model.price("SPX") == pytest.approx(spx * 0.88, rel=1e-6)
    assert model.price("VIX") > vix * 1.8
    assert model.price("VIX") > model.price("VIX3M")


def test_market_gap_moves_stocks_by_beta(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    tsla, ko = model.price("TSLA"), model.price("KO")
    model.apply_market_gap(-0.05)
    assert model.price("TSLA") == pytest.approx(tsla * (1 - 0.05 * 2.0), abs=1e-3)
    assert model.price("KO") == pytest.approx(ko * (1 - 0.05 * 0.5), abs=1e-3)


def test_underlying_quote(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    q = model.underlying_quote("AAPL")
    assert q.bid is not None and q.ask is not None
    assert q.bid < q.ask
    assert q.bid <= q.last <= q.ask
    assert q.volume > 0
    assert q.close == model.historical_bars("AAPL", dt.date(2026, 11, 23), 1)[-1].close
    spx = model.underlying_quote("SPX")
    assert spx.bid is None and spx.ask is None and spx.last > 0


def test_universe_and_lookup(model: MarketModel) -> None:
    specs = model.specs()
    stocks = [s for s in specs if s.sec_type == "STK" and s.symbol != "SPY"]
    assert len(stocks) >= 55
    assert len({s.sector for s in stocks}) >= 8
    assert len({s.con_id for s in specs}) == len(specs)
    spx = model.find("SPX")
    assert spx is not None and spx.con_id == 416904 and spx.sec_type == "IND"
    assert model.find("SPX", "STK") is None
    spy = model.find("spy")
    assert spy is not None and spy.primary_exchange == "ARCA"
    assert model.by_con_id(416904) == spx
    assert model.by_con_id(123) is None


def test_settlement(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    d = dt.date(2026, 11, 25)
    assert model.settlement_price("SPX", d) == pytest.approx(
        model.price("SPX", dt.datetime(2026, 11, 25, 21, 0, tzinfo=UTC)), abs=0.01
    )
    assert model.opening_price("SPX", d) != model.settlement_price("SPX", d)
    assert model.is_open(dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    assert not model.is_open()


def _ann_vol(closes: list[float]) -> float:
    import math
    import statistics

    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    return statistics.pstdev(rets) * math.sqrt(252)


def test_realized_vol_matches_spec(clock: SteppedClock, model: MarketModel) -> None:
    spec = model.find("AAPL")
    assert spec is not None
    hist = [b.close for b in model.historical_bars("AAPL", dt.date(2026, 11, 23), 500)]
    assert _ann_vol(hist) == pytest.approx(spec.vol, rel=0.15)
    # forward path: daily closes over ~6 months of simulated sessions
    cal = model.calendar
    sessions = cal.sessions_between(dt.date(2026, 11, 24), dt.date(2027, 5, 31))
    fwd = [model.price("AAPL", cal.session_close(d)) for d in sessions]
    assert _ann_vol(fwd) == pytest.approx(spec.vol, rel=0.2)
    spx = [model.price("SPX", cal.session_close(d)) for d in sessions]
    assert _ann_vol(spx) == pytest.approx(0.15, rel=0.2)
