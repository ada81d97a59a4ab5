"""Tick grid, tier 1 and tier 2 prices (with hypothesis properties)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain import MarketDataType, Quote
from engine.execution.pricing import (
    floor_price,
    on_grid,
    quote_problem,
    round_to_tick,
    tick_for,
    tier1_price,
    tier2_price,
)

NOW = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)


def q(bid: float | None, ask: float | None, **kw: object) -> Quote:
    return Quote(con_id=1, bid=bid, ask=ask, time=kw.pop("time", NOW), **kw)  # type: ignore[arg-type]


def test_tick_sizes() -> None:
    assert tick_for(Decimal("2.99"), "AAPL") == Decimal("0.01")
    assert tick_for(Decimal("3.00"), "AAPL") == Decimal("0.05")
    assert tick_for(Decimal("2.99"), "SPX") == Decimal("0.05")
    assert tick_for(Decimal("3.00"), "SPXW") == Decimal("0.10")
    assert tick_for(Decimal("3.00"), "XSP") == Decimal("0.05")


@pytest.mark.parametrize(
    ("price", "symbol", "how", "expected"),
    [
        ("1.234", "AAPL", "up", "1.24"),
        ("1.234", "AAPL", "down", "1.23"),
        ("3.02", "AAPL", "down", "3.00"),
        ("3.02", "AAPL", "up", "3.05"),
        ("2.996", "AAPL", "up", "3.00"),
        ("3.01", "AAPL", "nearest", "3.00"),
        ("1.23", "SPX", "up", "1.25"),
        ("4.04", "SPX", "down", "4.00"),
        ("4.04", "SPX", "up", "4.10"),
        ("0.001", "AAPL", "down", "0.01"),
    ],
)
def test_round_to_tick(price: str, symbol: str, how: str, expected: str) -> None:
    assert round_to_tick(Decimal(price), symbol, how) == Decimal(expected)  # type: ignore[arg-type]


def test_quote_problems() -> None:
    assert quote_problem(None, NOW).code == "quote.missing"  # type: ignore[union-attr]
    delayed = q(1.0, 1.1, market_data_type=MarketDataType.DELAYED)
    assert quote_problem(delayed, NOW).code == "quote.not_live"  # type: ignore[union-attr]
    old = q(1.0, 1.1, time=NOW - dt.timedelta(minutes=5))
    assert quote_problem(old, NOW).code == "quote.stale"  # type: ignore[union-attr]
    assert quote_problem(q(-1, 1.1), NOW).code == "quote.one_sided"  # type: ignore[union-attr]
    crossed = quote_problem(q(1.2, 1.1), NOW)
    assert crossed is not None and crossed.code == "quote.crossed"
    assert crossed.text == "crossed market (bid 1.20 > ask 1.10)"
    assert quote_problem(q(1.0, 1.1), NOW) is None


def test_tier1_modes() -> None:
    quote = q(1.00, 1.20)
    kw = {"symbol": "AAPL", "min_premium": Decimal("0.10"), "now": NOW}
    assert tier1_price(quote, mode="mid", **kw)[0] == Decimal("1.10")  # type: ignore[arg-type]
    assert tier1_price(quote, mode="mid_minus_tick", **kw)[0] == Decimal("1.09")  # type: ignore[arg-type]
    assert tier1_price(quote, mode="ask_minus_tick", **kw)[0] == Decimal("1.19")  # type: ignore[arg-type]


def test_tier1_refuses_stale_and_low() -> None:
    p, r = tier1_price(
        q(1.0, 1.2, market_data_type=MarketDataType.FROZEN),
        symbol="AAPL",
        mode="mid",
        min_premium=Decimal("0.1"),
        now=NOW,
    )
    assert p is None and r.code == "quote.not_live"
    p, r = tier1_price(
        q(0.05, 0.08), symbol="AAPL", mode="mid", min_premium=Decimal("0.10"), now=NOW
    )
    assert p is None and r.code == "price.below_min_premium"


def test_tier1_lifts_to_floor_when_ask_allows() -> None:
    p, _ = tier1_price(
        q(0.06, 0.14), symbol="AAPL", mode="mid", min_premium=Decimal("0.12"), now=NOW
    )
    assert p == Decimal("0.12")


def test_tier2_moves_toward_bid_once() -> None:
    p, r = tier2_price(
        Decimal("1.10"),
        q(1.00, 1.20),
        symbol="AAPL",
        step=0.5,
        min_premium=Decimal("0.10"),
        now=NOW,
    )
    assert p == Decimal("1.05") and r.code == "price.tier2"


def test_tier2_never_below_min_premium_or_bid() -> None:
    p, r = tier2_price(
        Decimal("0.30"),
        q(0.05, 0.40),
        symbol="AAPL",
        step=1.0,
        min_premium=Decimal("0.25"),
        now=NOW,
    )
    assert p == Decimal("0.25")
    p, r = tier2_price(
        Decimal("0.25"),
        q(0.05, 0.40),
        symbol="AAPL",
        step=1.0,
        min_premium=Decimal("0.25"),
        now=NOW,
    )
    assert p is None and r.code == "price.tier2_no_room"


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=3)
symbols = st.sampled_from(["AAPL", "SPX", "XSP", "MSFT"])


@given(prices, symbols, st.sampled_from(["up", "down", "nearest"]))
def test_round_always_on_grid(p: Decimal, sym: str, how: str) -> None:
    r = round_to_tick(p, sym, how)  # type: ignore[arg-type]
    assert on_grid(r, sym)
    if how == "up":
        assert r >= p
    if how == "down" and p >= tick_for(Decimal(0), sym):
        assert r <= p


@given(
    st.floats(0.01, 40),
    st.floats(0.0, 5),
    st.decimals(Decimal("0"), Decimal("5"), places=2),
    symbols,
    st.sampled_from(["mid", "mid_minus_tick", "ask_minus_tick"]),
)
def test_tier1_properties(bid: float, width: float, minp: Decimal, sym: str, mode: str) -> None:
    quote = q(bid, bid + width)
    p, _ = tier1_price(quote, symbol=sym, mode=mode, min_premium=minp, now=NOW)  # type: ignore[arg-type]
    if p is not None:
        assert p > 0  # never a debit
        assert on_grid(p, sym)
        assert p >= minp
        assert p >= floor_price(minp, sym)
        assert p >= Decimal(str(bid))  # never below the natural price


@given(
    st.floats(0.01, 40),
    st.floats(0.0, 5),
    st.decimals(Decimal("0.01"), Decimal("60"), places=2),
    st.decimals(Decimal("0"), Decimal("5"), places=2),
    st.floats(0.05, 1.0),
    symbols,
)
def test_tier2_properties(
    bid: float, width: float, limit: Decimal, minp: Decimal, step: float, sym: str
) -> None:
    limit = round_to_tick(limit, sym, "up")
    p, _ = tier2_price(limit, q(bid, bid + width), symbol=sym, step=step, min_premium=minp, now=NOW)
    if p is not None:
        assert p > 0
        assert on_grid(p, sym)
        assert p >= minp
        assert p >= Decimal(str(bid))
        assert p < limit  # a reprice only ever moves toward the bid


def test_reasons_show_prices_in_cents() -> None:
    """Every price in a reason has its cents (0.30, not 0.3), as the console shows prices."""
    _, r = tier1_price(q(0.3, 0.34), symbol="AMZN", mode="mid", min_premium=Decimal("0.1"), now=NOW)
    assert r.text == "tier 1 mid: bid 0.30 ask 0.34 -> limit 0.32"
    _, r = tier1_price(
        q(0.05, 0.08), symbol="AAPL", mode="mid", min_premium=Decimal("0.1"), now=NOW
    )
    assert r.text == "ask 0.08 is below the minimum premium 0.10"
    _, r = tier2_price(
        Decimal("1.1"), q(1.0, 1.2), symbol="AAPL", step=0.5, min_premium=Decimal("0.1"), now=NOW
    )
    assert r.text == "tier 2: limit 1.10 -> 1.05 toward bid 1.00 (step 0.5)"
    _, r = tier2_price(
        Decimal("1"), q(1.0, 1.2), symbol="AAPL", step=0.5, min_premium=Decimal("0.1"), now=NOW
    )
    assert r.text == "limit 1.00 already at the floor (bid 1.00, min premium 0.10)"
