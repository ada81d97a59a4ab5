"""Chains, per-expiry strikes, option contracts and quotes."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from engine.market.calendar import MarketCalendar
from engine.market.clock import SteppedClock
from engine.sim.market import MarketModel, OptionSpec

from .conftest import START

UTC = dt.UTC


def _smart(model: MarketModel, symbol: str, cls: str):  # type: ignore[no-untyped-def]
    rows = [
        c for c in model.option_params(symbol) if c.exchange == "SMART" and c.trading_class == cls
    ]
    assert len(rows) == 1
    return rows[0]


def test_stock_expirations_weeklies_monthlies_and_holiday_thursday(model: MarketModel) -> None:
    ch = _smart(model, "AAPL", "AAPL")
    exps = ch.expirations
    assert exps == sorted(exps)
    assert "20261127" in exps  # Friday after Thanksgiving is a session
    assert "20261224" in exps  # Friday 12-25 is a holiday -> Thursday
    assert "20261225" not in exps
    assert "20261218" in exps and "20270115" in exps and "20270319" in exps  # monthlies
    cal = MarketCalendar()
    for e in exps:
        d = dt.date(int(e[:4]), int(e[4:6]), int(e[6:]))
        assert cal.is_session(d)
        assert d.weekday() in (3, 4)
    assert {c.exchange for c in model.option_params("AAPL")} == {"SMART", "CBOE"}


def test_spx_classes(model: MarketModel) -> None:
    classes = {c.trading_class for c in model.option_params("SPX") if c.exchange == "SMART"}
    assert classes == {"SPX", "SPXW"}
    am = _smart(model, "SPX", "SPX").expirations
    assert am[0] == "20261218"
    assert all(dt.date(int(e[:4]), int(e[4:6]), int(e[6:])).weekday() == 4 for e in am)
    pm = _smart(model, "SPX", "SPXW").expirations
    # every weekday session for the next 15 sessions
    cal = MarketCalendar()
    sessions = [
        s.strftime("%Y%m%d")
        for s in cal.sessions_between(dt.date(2026, 11, 24), dt.date(2026, 12, 31))[:15]
    ]
    assert all(s in pm for s in sessions)
    assert "20261126" not in pm  # Thanksgiving
    assert "20261231" in pm  # end of month
    assert _smart(model, "XSP", "XSP").expirations[:3] == ["20261124", "20261125", "20261127"]
    assert _smart(model, "SPY", "SPY").expirations[:3] == ["20261124", "20261125", "20261127"]
    assert model.option_params("VIX") == []


def test_strike_grids_differ_per_expiry(model: MarketModel) -> None:
    ch = _smart(model, "SPX", "SPXW")
    near = model.expiry_strikes("SPX", "SPXW", ch.expirations[0])
    far = model.expiry_strikes("SPX", "SPXW", ch.expirations[-1])
    assert set(near) != set(far)
    assert set(near) | set(far) <= set(ch.strikes)
    spx = model.price("SPX")
    fine = [k for k in near if abs(k - spx) < 100]
    assert min(b - a for a, b in itertools.pairwise(fine)) == 5.0
    assert min(b - a for a, b in itertools.pairwise(far)) >= 25.0
    missing = next(k for k in near if k not in far)  # in the union and the near expiry only
    assert missing in ch.strikes
    assert model.option("SPX", "SPXW", ch.expirations[-1], missing, "P") is None
    assert model.option("SPX", "SPXW", ch.expirations[0], missing, "P") is not None
    # stock grid by price level
    aapl = _smart(model, "AAPL", "AAPL")
    ks = model.expiry_strikes("AAPL", "AAPL", aapl.expirations[0])
    assert 2.5 in {round(b - a, 2) for a, b in itertools.pairwise(ks)}
    f = _smart(model, "F", "F")
    fks = model.expiry_strikes("F", "F", f.expirations[0])
    assert 0.5 in {round(b - a, 2) for a, b in itertools.pairwise(fks)}


def test_option_contract_fields_and_ids(model: MarketModel) -> None:
    ch = _smart(model, "SPX", "SPXW")
    e = ch.expirations[2]
    k = model.expiry_strikes("SPX", "SPXW", e)[len(model.expiry_strikes("SPX", "SPXW", e)) // 2]
    o = model.option("SPX", "SPXW", e, k, "P")
    assert isinstance(o, OptionSpec)
    assert o.trading_class == "SPXW" and o.multiplier == 100 and o.underlying_con_id == 416904
    assert o.local_symbol == f"SPXW  {e[2:]}P{round(k * 1000):08d}"
    assert o.style == "E" and o.settlement == "PM"
    assert model.by_con_id(o.con_id) == o
    call = model.option("SPX", "SPXW", e, k, "C")
    assert call is not None and call.con_id != o.con_id
    # stable across restarts (a fresh model with the same seed and start)
    again = MarketModel(seed=99, clock=SteppedClock(START)).option("SPX", "SPXW", e, k, "P")
    assert again is not None and again.con_id == o.con_id
    # AM monthly: settles 09:30 ET on expiry, trading ends the prior business day
    am = model.option("SPX", "SPX", "20261218", 6000.0, "P") or model.option(
        "SPX", "SPX", "20261218", 5900.0, "P"
    )
    assert am is not None and am.settlement == "AM"
    assert am.last_trade_time == dt.datetime(2026, 12, 18, 14, 30, tzinfo=UTC)
    assert am.trading_ends == dt.datetime(2026, 12, 17, 21, 0, tzinfo=UTC)
    assert am.con_id != model.option("SPX", "SPXW", "20261218", am.strike, "P").con_id  # type: ignore[union-attr]
    # early-close expiry settles at 13:00 ET
    stock = model.option("AAPL", "AAPL", "20261127", 230.0, "P")
    assert stock is not None and stock.last_trade_time == dt.datetime(
        2026, 11, 27, 18, 0, tzinfo=UTC
    )
    assert model.option("AAPL", "AAPL", "20261126", 230.0, "P") is None
    assert model.option("AAPL", "SPXW", "20261127", 230.0, "P") is None


def test_quotes_skew_ticks_and_no_bid_far_otm(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    for sym, cls in (("SPX", "SPXW"), ("AAPL", "AAPL"), ("SPY", "SPY")):
        ch = _smart(model, sym, cls)
        e = ch.expirations[4]
        S = model.price(sym)
        puts = [model.option(sym, cls, e, k, "P") for k in model.expiry_strikes(sym, cls, e)]
        quotes = [(o, model.option_quote(o)) for o in puts if o is not None]
        otm = [(o, q) for o, q in quotes if o.strike < S]
        ivs = [q.iv for _, q in otm]
        assert ivs == sorted(ivs, reverse=True), "lower strikes must carry higher IV"
        assert quotes[0][1].bid is None, "far OTM put shows no bid"
        for o, q in quotes:
            assert -1.0 <= q.delta <= 0.0
            if q.model_price < 0.5 * float(model.tick_size(o, q.model_price)):
                assert q.bid is None
            if q.bid is not None and q.ask is not None:
                assert q.bid < q.ask
                assert q.bid <= q.model_price <= q.ask
                for px in (q.bid, q.ask):
                    tick = model.tick_size(o, px)
                    assert (Decimal(str(px)) / tick) % 1 == 0, (o.local_symbol, px, tick)
        atm = min(quotes, key=lambda oq: abs(oq[0].strike - S))[1]
        assert atm.bid is not None and atm.ask is not None and atm.volume > 0
        assert atm.open_interest > quotes[0][1].open_interest
        assert atm.und_price == S


def test_index_atm_iv_follows_vix(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    low = model.atm_vol("SPX", 30 / 365)
    assert 0.7 * model.price("VIX") / 100 < low < model.price("VIX") / 100
    model.apply_gap("SPX", -0.06)
    assert model.atm_vol("SPX", 30 / 365) > low * 1.2
    assert model.atm_vol("AAPL", 30 / 365) > 0.26


def test_tick_sizes(model: MarketModel) -> None:
    e = _smart(model, "SPX", "SPXW").expirations[0]
    k = model.expiry_strikes("SPX", "SPXW", e)[0]
    spx = model.option("SPX", "SPXW", e, k, "P")
    assert spx is not None
    assert model.tick_size(spx, 2.95) == Decimal("0.05")
    assert model.tick_size(spx, 3.00) == Decimal("0.10")
    a = _smart(model, "AAPL", "AAPL").expirations[0]
    aapl = model.option("AAPL", "AAPL", a, model.expiry_strikes("AAPL", "AAPL", a)[5], "P")
    assert aapl is not None
    assert model.tick_size(aapl, 1.0) == Decimal("0.01")
    assert model.tick_size(aapl, 4.0) == Decimal("0.05")


def test_quote_cache_is_consistent(clock: SteppedClock, model: MarketModel) -> None:
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    e = _smart(model, "AAPL", "AAPL").expirations[1]
    o = model.option("AAPL", "AAPL", e, model.expiry_strikes("AAPL", "AAPL", e)[10], "P")
    assert o is not None
    q1 = model.option_quote(o)
    assert model.option_quote(o) is q1
    model.apply_gap("AAPL", -0.05)
    assert model.option_quote(o).model_price > q1.model_price


def test_find_options_like_contract_details(model: MarketModel) -> None:
    e = _smart(model, "SPX", "SPXW").expirations[0]
    puts = model.find_options("SPX", "SPXW", e, None, "P")
    assert [o.strike for o in puts] == model.expiry_strikes("SPX", "SPXW", e)
    both = model.find_options("SPX", None, "20261218", 6000.0, None)
    assert {(o.trading_class, o.right) for o in both} <= {
        ("SPX", "P"),
        ("SPX", "C"),
        ("SPXW", "P"),
        ("SPXW", "C"),
    }
    month = model.find_options("AAPL", "AAPL", "202612", None, "C")
    assert {o.expiry[:6] for o in month} == {"202612"}
    assert model.find_options("NOPE") == []


def test_expired_contracts_still_resolve_by_con_id(clock: SteppedClock, model: MarketModel) -> None:
    e = _smart(model, "SPX", "SPXW").expirations[0]
    assert e == "20261124"
    k = model.expiry_strikes("SPX", "SPXW", e)[40]
    o = model.option("SPX", "SPXW", e, k, "P")
    a = model.option("AAPL", "AAPL", "20261127", 230.0, "P")
    assert o is not None and a is not None
    clock.set(dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert e not in _smart(model, "SPX", "SPXW").expirations
    assert model.by_con_id(o.con_id) == o
    assert model.by_con_id(a.con_id) == a
    fresh = MarketModel(seed=7, clock=clock, anchor=START)
    assert fresh.by_con_id(o.con_id) == o
    # expired: the quote is the intrinsic value at settlement
    q = model.option_quote(o)
    assert q.model_price == max(0.0, k - model.option_settlement(o))
    assert model.option_settlement(o) == model.settlement_price("SPX", dt.date(2026, 11, 24))


def test_listing_rolls_with_the_clock(clock: SteppedClock, model: MarketModel) -> None:
    before = _smart(model, "SPX", "SPXW").expirations
    clock.set(dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    after = _smart(model, "SPX", "SPXW").expirations
    assert before[0] == "20261124" and after[0] == "20261125"
    assert len(after) >= 15
