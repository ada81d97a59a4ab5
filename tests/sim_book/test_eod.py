"""End of day: expiry worthless, cash settlement, assignment, DAY vs GTC orders."""

from __future__ import annotations

from decimal import Decimal

from engine.sim.events import OrderStatusEvent, PositionEvent

from .conftest import EXPIRY, Env
from .fakes import contract, lmt


def sell(env: Env, spec, order_id: int, qty: int, price: float) -> None:  # type: ignore[no-untyped-def]
    env.market.set_quote(spec, str(price), str(price + 0.05))
    env.book.place(1, contract(spec), lmt(order_id, "SELL", qty, price))
    env.book.on_tick()


def test_otm_expires_worthless(env: Env) -> None:
    sell(env, env.ko45, 1, 2, 0.50)
    cash = env.book.cash
    env.market.settlements[("KO", EXPIRY)] = Decimal("47")
    env.book.end_of_day(EXPIRY)
    assert env.book.positions() == []
    assert env.book.cash == cash
    book_trade = env.book.ledger.trades[-1]
    assert (book_trade.transaction_type, book_trade.notes, book_trade.open_close) == (
        "BookTrade",
        "Ep",
        "C",
    )
    assert book_trade.quantity == 2 and book_trade.price == 0
    assert book_trade.realized == Decimal("100") - Decimal("1.35")
    [eae] = env.book.ledger.eae
    assert eae.transaction_type == "Expiration" and eae.quantity == -2
    assert env.of(PositionEvent)[-1].position == 0


def test_other_expiries_untouched(env: Env) -> None:
    sell(env, env.ko45, 1, 1, 0.50)
    env.book.end_of_day(EXPIRY.replace(day=26))
    assert len(env.book.positions()) == 1


def test_spx_itm_cash_settled(env: Env) -> None:
    spec = env.market.add_option("SPX", EXPIRY, "4800", "P", "5.00", "5.20")
    sell(env, spec, 1, 1, 5.00)
    cash = env.book.cash
    env.market.settlements[("SPX", EXPIRY)] = Decimal("4750")
    env.book.end_of_day(EXPIRY)
    assert env.book.positions() == []
    assert env.book.cash == cash - Decimal("5000")  # 50 points x 100
    kinds = [e.transaction_type for e in env.book.ledger.eae]
    assert kinds == ["Assignment", "Cash Settlement"]
    bt = env.book.ledger.trades[-1]
    assert bt.notes == "A" and bt.price == 50 and bt.proceeds == -5000
    assert bt.realized == Decimal("500") - Decimal("1.02") - Decimal("5000")
    assert not [p for p in env.book.positions() if p.contract.secType == "STK"]


def test_stock_put_assigned(env: Env) -> None:
    sell(env, env.ko45, 1, 2, 0.50)
    cash = env.book.cash
    env.market.settlements[("KO", EXPIRY)] = Decimal("44")
    env.market.prices["KO"] = Decimal("44")
    env.book.end_of_day(EXPIRY)
    [stock] = env.book.positions()
    assert stock.contract.secType == "STK" and stock.contract.conId == 8894
    assert stock.position == 200
    # cost basis: strike less the net premium per share
    assert round(stock.avg_cost, 6) == round(45 - (100 - 1.35) / 200, 6)
    assert env.book.cash == cash - Decimal("9000")
    opt_leg, stk_leg = env.book.ledger.trades[-2:]
    assert (opt_leg.sec_type, opt_leg.notes, opt_leg.open_close, opt_leg.price) == (
        "OPT",
        "A",
        "C",
        0,
    )
    assert (stk_leg.sec_type, stk_leg.notes, stk_leg.open_close, stk_leg.quantity) == (
        "STK",
        "A",
        "O",
        200,
    )
    assert stk_leg.price == 45 and stk_leg.proceeds == -9000 and stk_leg.commission == 0
    assert [e.transaction_type for e in env.book.ledger.eae] == ["Assignment", "Buy"]
    v = env.book.account_values()
    assert Decimal(v["EquityWithLoanValue"]) == env.book.cash + 200 * 44
    assert Decimal(v["InitMarginReq"]) == Decimal("4400.00")  # 50% of 8800


def test_spy_itm_is_assigned_with_shares(env: Env) -> None:
    spec = env.market.add_option("SPY", EXPIRY, "510", "P", "10.00", "10.10")
    sell(env, spec, 1, 1, 10.00)
    env.market.settlements[("SPY", EXPIRY)] = Decimal("500")
    env.book.end_of_day(EXPIRY)
    [stock] = env.book.positions()
    assert stock.contract.symbol == "SPY" and stock.position == 100


def test_day_orders_cancelled_gtc_kept(env: Env) -> None:
    c = contract(env.ko45)
    env.book.place(1, c, lmt(1, "SELL", 1, 0.90))
    env.book.place(1, c, lmt(2, "SELL", 1, 0.95, tif="GTC"))
    env.book.end_of_day(EXPIRY.replace(day=24))
    assert [o.orderId for _, o, _ in env.book.open_orders()] == [2]
    assert [e.status for e in env.of(OrderStatusEvent) if e.order_id == 1][-1] == "Cancelled"


def test_assigned_shares_can_be_sold(env: Env) -> None:
    from ib_async import Contract, Order

    from engine.sim.events import ExecutionEvent

    sell(env, env.ko45, 1, 1, 0.50)
    env.market.settlements[("KO", EXPIRY)] = Decimal("44")
    env.market.prices["KO"] = Decimal("44")
    env.book.end_of_day(EXPIRY)
    env.clock.set(env.clock.now().replace(day=30))  # Monday 10:00 New York
    stock = Contract(conId=8894, secType="STK", symbol="KO", exchange="SMART", currency="USD")
    env.book.place(1, stock, Order(orderId=9, action="SELL", totalQuantity=100, orderType="MKT"))
    env.book.on_tick()
    fill = env.of(ExecutionEvent)[-1]
    assert fill.contract.secType == "STK" and fill.execution.price == 44.0
    assert fill.commission.commission == 1.0
    assert env.book.positions() == []
    # bought at 45 less the net premium (50 - 1.02 commission), sold at 44, $1 commission
    assert fill.commission.realizedPNL == round(4400 - 1 - (4500 - 48.98), 2)
