"""Pure strike selection: nearest the delta target, widening, minimum premium, reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from config.nakedtrader import NakedTraderConfig
from engine.domain import OptionRef, Quote
from engine.nakedtrader.selector import band_for, limit_for, select_strike

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def chain(
    rows: list[tuple[float, float, float, float]],
) -> tuple[list[OptionRef], dict[int, Quote]]:
    """rows: (strike, delta, bid, ask)."""
    opts, quotes = [], {}
    for i, (strike, delta, bid, ask) in enumerate(rows, start=1):
        opts.append(OptionRef("SPX", "20261125", strike, "P", i, "SPXW"))
        quotes[i] = Quote(con_id=i, bid=bid, ask=ask, delta=-delta, time=NOW)
    return opts, quotes


def cfg(**kw: object) -> NakedTraderConfig:
    return NakedTraderConfig.model_validate({"instrument": "SPX", **kw})


def test_picks_the_put_nearest_the_target_inside_the_band() -> None:
    opts, quotes = chain(
        [(5750, 0.050, 2.0, 2.2), (5760, 0.060, 2.4, 2.6), (5765, 0.066, 2.6, 2.8),
         (5770, 0.072, 2.9, 3.1), (5780, 0.090, 3.5, 3.7)]
    )  # fmt: skip
    out = select_strike(opts, quotes, cfg(), symbol="SPX", now=NOW)
    assert out.selection is not None
    assert out.selection.option.strike == 5765
    assert out.reason.code == "nt.selected" and out.selection.widen_steps == 0
    assert out.selection.limit_price == Decimal("2.70")  # mid on the 0.05 grid


def test_widens_step_by_step_when_the_band_is_empty() -> None:
    opts, quotes = chain([(5700, 0.030, 1.0, 1.1), (5790, 0.094, 3.9, 4.1)])
    c = cfg(widen_step=0.01, widen_limit=3)
    assert band_for(c, 2) == (0.035, 0.095)
    out = select_strike(opts, quotes, c, symbol="SPX", now=NOW)
    assert out.selection is not None
    assert out.selection.widen_steps == 2 and out.selection.option.strike == 5790
    assert out.reason.code == "nt.selected_widened"
    assert "after 2 widening(s)" in out.reason.text


def test_nothing_within_the_widening_limit_gives_a_reason() -> None:
    opts, quotes = chain([(5600, 0.010, 0.3, 0.4), (5850, 0.250, 10.0, 10.4)])
    out = select_strike(opts, quotes, cfg(widen_limit=1), symbol="SPX", now=NOW)
    assert out.selection is None
    assert out.reason.code == "nt.no_strike_in_band"
    assert "[0.045, 0.085]" in out.reason.text and "5600P" in out.reason.text


def test_min_premium_and_missing_delta_are_rejected_with_reasons() -> None:
    opts, quotes = chain([(5765, 0.065, 0.05, 0.10)])
    opts.append(OptionRef("SPX", "20261125", 5770, "P", 99, "SPXW"))
    quotes[99] = Quote(con_id=99, bid=2.0, ask=2.2, delta=None, time=NOW)
    out = select_strike(opts, quotes, cfg(min_premium="0.50"), symbol="SPX", now=NOW)
    assert out.selection is None and out.reason.code == "nt.no_priced_strike"
    codes = {strike: r.code for strike, r in out.rejected}
    assert codes == {5765: "price.below_min_premium", 5770: "nt.no_delta"}


def test_bid_mode_sells_at_the_bid_rounded_down_to_the_grid() -> None:
    opts, quotes = chain([(5765, 0.065, 2.63, 2.80)])
    out = select_strike(opts, quotes, cfg(limit_price="bid"), symbol="SPX", now=NOW)
    assert out.selection is not None and out.selection.limit_price == Decimal("2.60")
    price, why = limit_for(quotes[1], cfg(limit_price="bid"), "SPX", NOW)
    assert price == Decimal("2.60") and why.text == "at the bid 2.63 -> limit 2.60"
    low = Quote(con_id=1, bid=0.3, ask=0.4, delta=-0.065, time=NOW)
    _, why = limit_for(low, cfg(limit_price="bid", min_premium="0.5"), "SPX", NOW)
    assert why.text == "bid 0.30 is below the minimum premium 0.50"


def test_a_stale_quote_is_not_priced() -> None:
    opts, quotes = chain([(5765, 0.065, 2.6, 2.8)])
    later = NOW + dt.timedelta(minutes=5)
    out = select_strike(opts, quotes, cfg(), symbol="SPX", now=later)
    assert out.selection is None
    assert out.rejected[0][1].code == "quote.stale"
