"""What-if margin vectors (ibkr-domain.md section 1) and margin rejection on place."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ib_async.order import Order, OrderState
from ib_async.util import UNSET_DOUBLE

from engine.sim.events import OrderErrorEvent, OrderStatusEvent

from .conftest import EXPIRY, Env
from .fakes import contract, lmt


@pytest.mark.parametrize(
    ("symbol", "und", "strike", "price", "expected"),
    [
        ("KO", "47.50", "45", 0.50, Decimal("750.00")),
        ("SPX", "5000", "4800", 5.00, Decimal("55500.00")),
        ("XSP", "500", "480", 0.50, Decimal("5550.00")),
    ],
)
def test_what_if_vectors(
    env: Env, symbol: str, und: str, strike: str, price: float, expected: Decimal
) -> None:
    env.market.prices[symbol] = Decimal(und)
    spec = env.market.add_option(symbol, EXPIRY, strike, "P", "0.10", "9.00")
    state = env.book.what_if(1, contract(spec), lmt(1, "SELL", 1, price, whatIf=True))
    assert isinstance(state, OrderState)
    assert Decimal(state.initMarginChange) == expected
    assert Decimal(state.maintMarginChange) == expected
    assert Decimal(state.initMarginBefore) == 0
    assert Decimal(state.initMarginAfter) == expected
    assert Decimal(state.equityWithLoanBefore) == Decimal("1000000.00")
    elv_change = Decimal(state.equityWithLoanChange)
    assert elv_change == Decimal(str(price)) * 100 - Decimal(str(state.commission))
    assert state.commission != UNSET_DOUBLE and state.commission > 0
    assert state.commissionCurrency == "USD"
    assert not env.events, "what-if places nothing"


def test_what_if_refuses_when_margin_exceeds_equity(env: Env) -> None:
    book = env.new_book(starting_cash=Decimal("5000"))
    spec = env.market.add_option("SPX", EXPIRY, "4800", "P", "4.90", "5.10")
    answer = book.what_if(1, contract(spec), lmt(1, "SELL", 1, 5.0))
    assert isinstance(answer, tuple)
    code, message = answer
    assert code == 201
    assert "EQUITY WITH LOAN VALUE [5498.98 USD]" in message  # 5000 + 500 - 1.02
    assert "INITIAL MARGIN [55500.00 USD]" in message


def test_what_if_needs_transmit(env: Env) -> None:
    answer = env.book.what_if(1, contract(env.ko45), lmt(1, "SELL", 1, 0.5, transmit=False))
    assert isinstance(answer, tuple) and answer[0] == 413


def test_margin_rejection_on_place(env: Env) -> None:
    book = env.new_book(starting_cash=Decimal("5000"))
    spec = env.market.add_option("SPX", EXPIRY, "4800", "P", "4.90", "5.10")
    book.place(1, contract(spec), lmt(5, "SELL", 1, 5.0))
    [err] = env.of(OrderErrorEvent)
    assert err.code == 201
    assert err.message.startswith("Order rejected - reason:YOUR ORDER IS NOT ACCEPTED.")
    assert not env.of(OrderStatusEvent)
    # a closing (risk-reducing) buy is never margin-checked
    book.place(1, contract(spec), Order(orderId=6, action="BUY", totalQuantity=1, orderType="MKT"))
    assert env.of(OrderStatusEvent)[-1].status == "Submitted"


def test_second_order_sees_first_position(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(1, "SELL", 1, 0.50))
    env.book.on_tick()
    state = env.book.what_if(1, contract(env.ko45), lmt(2, "SELL", 1, 0.50))
    assert isinstance(state, OrderState)
    assert Decimal(state.initMarginBefore) == Decimal("752.50")  # marked at 0.525
    assert Decimal(state.initMarginChange) == Decimal("750.00")
