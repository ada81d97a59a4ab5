"""Fills, partial fills, cancel, modify, errors, account values."""

from __future__ import annotations

from decimal import Decimal

from ib_async.order import Order

from engine.sim.events import (
    AccountEvent,
    ExecutionEvent,
    OpenOrderEvent,
    OrderErrorEvent,
    OrderStatusEvent,
    PositionEvent,
)

from .conftest import Env
from .fakes import contract, lmt


def statuses(env: Env, order_id: int) -> list[str]:
    return [e.status for e in env.of(OrderStatusEvent) if e.order_id == order_id]


def errors(env: Env, order_id: int) -> list[int]:
    return [e.code for e in env.of(OrderErrorEvent) if e.order_id == order_id]


def test_sell_limit_rests_then_fills_at_limit(env: Env) -> None:
    spec = env.ko45
    env.book.place(1, contract(spec), lmt(10, "SELL", 2, 0.60, orderRef="ref-1"))
    assert statuses(env, 10) == ["Submitted"]
    env.book.on_tick()
    assert not env.of(ExecutionEvent)
    env.market.set_quote(spec, "0.62", "0.66")
    env.book.on_tick()
    [ex] = env.of(ExecutionEvent)
    assert ex.execution.price == 0.60
    assert ex.execution.side == "SLD"
    assert ex.execution.shares == 2
    assert ex.execution.orderRef == "ref-1"
    assert ex.execution.acctNumber == "DU1234567"
    assert ex.execution.clientId == 1 and ex.execution.orderId == 10
    assert ex.execution.permId > 0
    assert ex.commission.execId == ex.execution.execId
    # 2 x 0.65 + 2 x 0.02 + 2 x 0.00279 -> 1.35
    assert ex.commission.commission == 1.35
    assert ex.commission.currency == "USD"
    assert statuses(env, 10)[-1] == "Filled"
    [pos] = env.book.positions()
    assert pos.position == Decimal(-2)
    assert pos.avg_cost == (120 - 1.35) / 2
    assert env.book.cash == Decimal("1000000") + Decimal("120") - Decimal("1.35")
    assert env.of(PositionEvent) and env.of(AccountEvent)
    assert env.book.open_orders() == []
    [(_c, o, st)] = env.book.completed_orders()
    assert st.status == "Filled" and o.orderId == 10


def test_marketable_on_arrival_fills_at_touch(env: Env) -> None:
    spec = env.ko45
    env.market.set_quote(spec, "0.70", "0.75")
    env.book.place(1, contract(spec), lmt(11, "SELL", 1, 0.60))
    env.book.on_tick()
    [ex] = env.of(ExecutionEvent)
    assert ex.execution.price == 0.70


def test_buy_limit_stop_and_market(env: Env) -> None:
    spec = env.ko45
    env.book.place(1, contract(spec), lmt(1, "BUY", 1, 0.40))
    env.book.place(
        1,
        contract(spec),
        Order(orderId=2, action="BUY", totalQuantity=1, orderType="STP", auxPrice=0.80),
    )
    env.book.on_tick()
    assert not env.of(ExecutionEvent)
    env.market.set_quote(spec, "0.35", "0.40")
    env.book.on_tick()
    assert [e.execution.orderId for e in env.of(ExecutionEvent)] == [1]
    env.market.set_quote(spec, "0.80", "0.85")
    env.book.on_tick()
    fills = env.of(ExecutionEvent)
    assert fills[-1].execution.orderId == 2 and fills[-1].execution.price == 0.85
    env.book.place(
        1, contract(spec), Order(orderId=3, action="SELL", totalQuantity=2, orderType="MKT")
    )
    env.book.on_tick()
    assert env.of(ExecutionEvent)[-1].execution.price == 0.80
    assert env.book.positions() == []


def test_no_fill_while_market_closed(env: Env) -> None:
    from datetime import timedelta

    env.clock.advance(timedelta(hours=8))  # 18:00 New York
    env.market.set_quote(env.ko45, "0.70", "0.75")
    env.book.place(1, contract(env.ko45), lmt(5, "SELL", 1, 0.60))
    env.book.on_tick()
    assert not env.of(ExecutionEvent)
    env.clock.advance(timedelta(hours=16))  # next day 10:00
    env.book.on_tick()
    assert len(env.of(ExecutionEvent)) == 1


def test_partial_fills_are_seeded_and_complete(env: Env) -> None:
    def run() -> list[float]:
        env.events.clear()
        env.new_book(partial_fills=True, seed=3)
        env.market.set_quote(env.ko45, "0.70", "0.75")
        env.book.place(1, contract(env.ko45), lmt(20, "SELL", 10, 0.70))
        for _ in range(20):
            env.book.on_tick()
        return [e.execution.shares for e in env.of(ExecutionEvent)]

    first = run()
    assert len(first) > 1 and sum(first) == 10
    assert run() == first
    cum = [e.execution.cumQty for e in env.of(ExecutionEvent)]
    assert cum[-1] == 10 and cum == sorted(cum)
    assert "PreSubmitted" not in statuses(env, 20)
    assert statuses(env, 20)[-1] == "Filled"


def test_cancel_and_errors(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(30, "SELL", 1, 0.90))
    env.book.cancel(1, 30)
    assert statuses(env, 30)[-1] == "Cancelled"
    assert errors(env, 30) == [202]
    env.book.cancel(1, 30)
    assert errors(env, 30)[-1] == 10148
    env.book.cancel(1, 99)
    assert errors(env, 99) == [10147]
    env.market.set_quote(env.ko45, "0.95", "1.00")
    env.book.on_tick()
    assert not env.of(ExecutionEvent)
    [(_, _, st)] = env.book.completed_orders()
    assert st.status == "Cancelled"


def test_modify_with_same_order_id(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(40, "SELL", 1, 0.90))
    perm = env.book.order(1, 40).perm_id
    env.book.place(1, contract(env.ko45), lmt(40, "SELL", 1, 0.50))
    assert env.book.order(1, 40).perm_id == perm
    assert len(env.book.open_orders()) == 1
    assert env.of(OpenOrderEvent)[-1].order.lmtPrice == 0.50
    env.book.on_tick()
    assert env.of(ExecutionEvent)[0].execution.permId == perm


def test_perm_ids_unique_and_per_client_keys(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(1, "SELL", 1, 0.90))
    env.book.place(2, contract(env.ko45), lmt(1, "SELL", 1, 0.95))
    perms = {o.permId for _, o, _ in env.book.open_orders()}
    assert len(perms) == 2
    assert len(env.book.open_orders(client_id=2)) == 1


def test_tick_grid_and_reject_next(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(50, "SELL", 1, 0.503))
    assert errors(env, 50) == [110]
    env.book.reject_next("simulated rejection")
    env.book.place(1, contract(env.ko45), lmt(51, "SELL", 1, 0.50))
    assert errors(env, 51) == [201]
    assert "simulated rejection" in env.of(OrderErrorEvent)[-1].message
    env.book.place(1, contract(env.ko45), lmt(52, "SELL", 1, 0.50))
    assert statuses(env, 52) == ["Submitted"]


def test_account_values_follow_fills_and_prices(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(60, "SELL", 1, 0.50))
    env.book.on_tick()
    v = env.book.account_values()
    cash = Decimal(v["TotalCashValue"])
    assert cash == Decimal("1000000") + 50 - Decimal("1.02")
    assert Decimal(v["EquityWithLoanValue"]) == cash
    # option marked at the mid 0.525: NLV includes it, ELV does not
    assert Decimal(v["NetLiquidation"]) == cash - Decimal("52.50")
    # 0.525 + max(0.2*47.5 - 2.5, 4.5) = 7.525 -> 752.50
    assert Decimal(v["InitMarginReq"]) == Decimal("752.50")
    assert Decimal(v["AvailableFunds"]) == cash - Decimal("752.50")
    assert Decimal(v["ExcessLiquidity"]) == cash - Decimal(v["MaintMarginReq"])
    assert Decimal(v["BuyingPower"]) == 4 * Decimal(v["AvailableFunds"])
    assert Decimal(v["GrossPositionValue"]) == Decimal("52.50")
    env.market.prices["KO"] = Decimal("44")
    env.market.set_quote(env.ko45, "1.50", "1.60")
    v2 = env.book.account_values()
    # 1.55 + max(0.2*44 - 0, 4.5) = 10.35 -> 1035
    assert Decimal(v2["InitMarginReq"]) == Decimal("1035.00")
    assert Decimal(v2["NetLiquidation"]) == cash - Decimal("155.00")
    [(_c, pos, price, value, avg, unreal, _real)] = env.book.portfolio()
    assert pos == -1 and price == 1.55 and value == -155.0
    assert round(unreal, 2) == round(-155.0 + float(avg), 2)


def test_account_values_pushed_every_three_minutes_with_positions(env: Env) -> None:
    from datetime import timedelta

    env.book.on_tick()
    assert not env.of(AccountEvent), "no positions, nothing to refresh"
    env.market.set_quote(env.ko45, "0.70", "0.75")
    env.book.place(1, contract(env.ko45), lmt(1, "SELL", 1, 0.70))
    env.book.on_tick()
    env.book.on_tick()  # first tick with a position: pushed
    pushed = len(env.of(AccountEvent))
    env.clock.advance(timedelta(minutes=1))
    env.book.on_tick()
    assert len(env.of(AccountEvent)) == pushed
    env.clock.advance(timedelta(minutes=2))
    before = len(env.of(AccountEvent))
    env.book.on_tick()
    assert len(env.of(AccountEvent)) == before + 1
