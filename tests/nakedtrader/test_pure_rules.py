"""Pure NakedTrader rules: expiry by DTE, trading class, entry window, daily limit, bracket
states and settlement at expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from config.nakedtrader import NakedTraderConfig
from engine.domain import OptionChainInfo, OptionRef
from engine.execution.ports import BrokerOrder
from engine.market.calendar import MarketCalendar
from engine.nakedtrader.chain import choose_class, pick_expiry, strikes_to_quote
from engine.nakedtrader.watcher import live_bracket_status, settlement
from engine.nakedtrader.workflow import daily_limit, entry_window, window_bounds
from engine.store.trades import TradeRow

CAL = MarketCalendar()


def cfg(**kw: object) -> NakedTraderConfig:
    return NakedTraderConfig.model_validate(kw)


def test_expiry_by_sessions_skips_thanksgiving() -> None:
    exps = ["20261124", "20261125", "20261127", "20261130"]
    wed = dt.date(2026, 11, 25)
    assert pick_expiry(exps, wed, 0, CAL)[0] == "20261125"
    assert pick_expiry(exps, wed, 1, CAL)[0] == "20261127"  # Thursday 26th is a holiday
    assert pick_expiry(exps, dt.date(2026, 11, 28), 0, CAL)[0] == "20261130"  # Saturday
    none, why = pick_expiry(exps, wed, 5, CAL)
    assert none is None and why.code == "nt.no_expiry"


def test_class_order_and_a_missing_class() -> None:
    spx = OptionChainInfo("SPX", 1, "SPX", 100, ("20261218",), (5000.0,))
    spxw = OptionChainInfo("SPX", 1, "SPXW", 100, ("20261125", "20261218"), (5000.0,))
    today = dt.date(2026, 11, 24)
    got, _ = choose_class([spx, spxw], cfg(instrument="SPX"), today, CAL)
    assert got is not None and got[0].trading_class == "SPXW" and got[1] == "20261125"
    got, _ = choose_class([spx], cfg(instrument="SPX", trading_class="SPX"), today, CAL)
    assert got is not None and got[1] == "20261218"
    xsp = OptionChainInfo("XSP", 2, "XSP", 100, ("20261125",), (500.0,))
    got, _ = choose_class([xsp], cfg(instrument="XSP"), today, CAL)  # no XSPW listed
    assert got is not None and got[0].trading_class == "XSP"
    none, why = choose_class([], cfg(instrument="SPY"), today, CAL)
    assert none is None and why.code == "nt.no_chain" and "SPY not listed" in why.text


def test_only_out_of_the_money_listed_puts_near_the_money_are_quoted() -> None:
    refs = [OptionRef("SPX", "20261125", float(k), "P", k, "SPXW") for k in range(4000, 6100, 5)]
    got = strikes_to_quote(refs, 5900.0, limit=10)
    assert [o.strike for o in got] == [float(k) for k in range(5850, 5900, 5)]


@pytest.mark.parametrize(
    ("et", "ok", "code"),
    [
        ("09:44", False, "nt.outside_window"),
        ("09:45", True, "nt.in_window"),
        ("15:29", True, "nt.in_window"),
        ("15:30", False, "nt.outside_window"),
    ],
)
def test_entry_window(et: str, ok: bool, code: str) -> None:
    from engine.market.calendar import ET

    h, m = map(int, et.split(":"))
    now = dt.datetime(2026, 11, 24, h, m, tzinfo=ET).astimezone(dt.UTC)
    got, why = entry_window(now, cfg(), CAL)
    assert (got, why.code) == (ok, code)


def test_entry_window_closed_days_and_early_close() -> None:
    from engine.market.calendar import ET

    thanksgiving = dt.datetime(2026, 11, 26, 11, 0, tzinfo=ET)
    assert entry_window(thanksgiving, cfg(), CAL)[1].code == "nt.not_session"
    early = dt.datetime(2026, 11, 27, 13, 30, tzinfo=ET)  # closes 13:00
    assert entry_window(early, cfg(), CAL)[1].code == "nt.outside_window"
    # what the console's NakedTrader pane shows as today's window
    assert window_bounds(dt.date(2026, 11, 27), cfg(), CAL) == (dt.time(9, 45), dt.time(13, 0))
    assert window_bounds(dt.date(2026, 11, 24), cfg(), CAL) == (dt.time(9, 45), dt.time(15, 30))
    assert window_bounds(dt.date(2026, 11, 26), cfg(), CAL) is None


def test_daily_limit() -> None:
    assert daily_limit(0, cfg())[0]
    ok, why = daily_limit(1, cfg())
    assert not ok and why.code == "nt.daily_limit"
    assert daily_limit(1, cfg(max_daily_trades=2))[0]


def order(ref: str, status: str, filled: int = 0) -> BrokerOrder:
    return BrokerOrder(ref, 1, 1, 1, "SPX", "SELL", 1, "LMT", None, None, "DAY", status, filled, 1)


def test_bracket_states() -> None:
    assert live_bracket_status(order("e", "Submitted"), None, None, "pending") == (
        "pending",
        "entry_working",
    )
    assert live_bracket_status(order("e", "Cancelled"), None, None, "pending") == (
        "cancelled",
        "entry_cancelled",
    )
    tp, sl = order("e-tp", "Submitted"), order("e-sl", "PreSubmitted")
    assert live_bracket_status(order("e", "Filled", 1), tp, sl, "open") == ("open", "working")
    gone = order("e-tp", "Cancelled")
    assert live_bracket_status(order("e", "Filled", 1), gone, None, "open") == (
        "open",
        "unprotected",
    )
    # read as the execution watcher reads exits: one kind ended, or one filled (closing)
    assert live_bracket_status(order("e", "Filled", 1), gone, sl, "open") == ("open", "stop_only")
    filled = order("e-tp", "Filled", 1)
    assert live_bracket_status(order("e", "Filled", 1), filled, gone, "open") is None


def trade(symbol: str, strike: str) -> TradeRow:
    return TradeRow(id=1, account_id="DU1", trade_strategy="nakedtrader", symbol=symbol,
                    quantity=2, strike=Decimal(strike))  # fmt: skip


def test_settlement_cash_expired_and_assigned() -> None:
    assert settlement(trade("SPX", "5765"), 5800.0, 0)[:2] == ("expired", Decimal(0))
    reason, price, why = settlement(trade("SPX", "5765"), 5740.5, 0)
    assert (reason, price) == ("cash_settled", Decimal("24.50")) and why.code == "nt.cash_settled"
    assert settlement(trade("XSP", "576"), 575.2, 0)[:2] == ("cash_settled", Decimal("0.80"))
    assert settlement(trade("SPY", "575"), 570.0, 200)[:2] == ("assigned", Decimal(0))
    assert settlement(trade("SPY", "575"), 580.0, 0)[:2] == ("expired", Decimal(0))


def test_sample_then_band_window() -> None:
    from engine.domain import Quote
    from engine.nakedtrader.chain import band_window, sample_of

    refs = [OptionRef("SPX", "20261125", float(k), "P", k, "SPXW") for k in range(5600, 5900, 5)]
    sample = sample_of(refs, 10)
    assert sample[0] is refs[0] and sample[-1] is refs[-1] and len(sample) == 10
    # |delta| rising with the strike: 0.0025 per 5 points from 5600
    quotes = {o.con_id: Quote(con_id=o.con_id, bid=1, ask=1.1, delta=-(o.strike - 5595) / 2000)
              for o in sample}  # fmt: skip
    window = band_window(refs, quotes, 0.025, 0.105)
    deltas = [(o.strike - 5595) / 2000 for o in window]
    assert deltas[0] < 0.025 and deltas[-1] > 0.105  # the window brackets the whole band
    inside = [o for o in refs if 0.025 <= (o.strike - 5595) / 2000 <= 0.105]
    assert set(inside) <= set(window) and len(window) < len(refs)
