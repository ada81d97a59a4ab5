"""The book on the real engine.sim.market.MarketModel: sell a SPY put, mark, expire."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ib_async import Contract, Order, OrderState

from engine.market.clock import SteppedClock
from engine.sim.book import Book
from engine.sim.events import BookEvent, ExecutionEvent
from engine.sim.market import MarketModel

from .conftest import START


def test_spy_put_round_trip_on_market_model() -> None:
    clock = SteppedClock(START)
    market = MarketModel(7, clock)
    params = market.option_params("SPY")[0]
    expiry = params.expirations[1]
    und = market.price("SPY")
    strike = [
        k for k in market.expiry_strikes("SPY", params.trading_class, expiry) if k < und * 0.97
    ][-1]
    spec = market.option("SPY", params.trading_class, expiry, strike, "P")
    assert spec is not None
    quote = market.option_quote(spec)
    assert quote.bid is not None
    events: list[BookEvent] = []
    book = Book(market, clock, listener=events.append)
    contract = Contract(conId=spec.con_id, secType="OPT", symbol="SPY")
    order = Order(orderId=1, action="SELL", totalQuantity=1, orderType="LMT", lmtPrice=quote.bid)
    state = book.what_if(1, contract, order)
    assert isinstance(state, OrderState)
    u, k, p = Decimal(str(und)), Decimal(str(strike)), Decimal(str(quote.bid))
    expected = (p + max(Decimal("0.15") * u - (u - k), Decimal("0.10") * k)) * 100
    assert Decimal(state.initMarginChange) == expected.quantize(Decimal("0.01"))
    book.place(1, contract, order)
    book.on_tick()
    [fill] = [e for e in events if isinstance(e, ExecutionEvent)]
    assert fill.contract.localSymbol == spec.local_symbol
    values = book.account_values()
    assert Decimal(values["NetLiquidation"]) < Decimal(values["EquityWithLoanValue"])
    day = spec.expiry_date
    clock.set(dt.datetime(day.year, day.month, day.day, 21, 5, tzinfo=dt.UTC))
    book.end_of_day(day)
    assert all(p.contract.secType != "OPT" for p in book.positions())
    assert book.ledger.eae and book.ledger.eae[0].transaction_type in {"Expiration", "Assignment"}
