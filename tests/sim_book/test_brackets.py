"""Brackets held until transmit, children waiting for the parent, OCA behaviour."""

from __future__ import annotations

from ib_async.order import Order

from engine.sim.events import ExecutionEvent, OrderErrorEvent, OrderStatusEvent

from .conftest import Env
from .fakes import contract, lmt


def bracket(env: Env, parent_id: int = 100, tif_children: str = "GTC") -> None:
    c = contract(env.ko45)
    env.book.place(1, c, lmt(parent_id, "SELL", 1, 0.60, transmit=False, orderRef="b1"))
    env.book.place(
        1,
        c,
        lmt(parent_id + 1, "BUY", 1, 0.30, parentId=parent_id, transmit=False, tif=tif_children),
    )
    assert not env.of(OrderStatusEvent), "nothing goes live before the last order transmits"
    env.book.place(
        1,
        c,
        Order(
            orderId=parent_id + 2,
            action="BUY",
            totalQuantity=1,
            orderType="STP",
            auxPrice=1.20,
            parentId=parent_id,
            transmit=True,
            tif=tif_children,
        ),
    )


def last_status(env: Env, order_id: int) -> str:
    return [e.status for e in env.of(OrderStatusEvent) if e.order_id == order_id][-1]


def test_bracket_held_until_transmit_and_children_wait(env: Env) -> None:
    bracket(env)
    assert last_status(env, 100) == "Submitted"
    assert last_status(env, 101) == "PreSubmitted"
    assert last_status(env, 102) == "PreSubmitted"
    # children never fill while the parent is open, even when marketable
    env.market.set_quote(env.ko45, "0.25", "0.28")
    env.book.on_tick()
    assert not env.of(ExecutionEvent)
    env.market.set_quote(env.ko45, "0.60", "0.65")
    env.book.on_tick()
    assert [e.execution.orderId for e in env.of(ExecutionEvent)] == [100]
    assert last_status(env, 101) == "Submitted"
    assert last_status(env, 102) == "Submitted"
    env.market.set_quote(env.ko45, "0.25", "0.30")
    env.book.on_tick()
    assert [e.execution.orderId for e in env.of(ExecutionEvent)] == [100, 101]
    assert last_status(env, 102) == "Cancelled"
    oca = [e for e in env.of(OrderErrorEvent) if e.order_id == 102]
    assert oca[0].code == 202 and oca[0].message == "Order Canceled - reason:OCA"
    assert env.book.positions() == []


def test_stop_child_fills_and_cancels_take_profit(env: Env) -> None:
    bracket(env)
    env.book.on_tick()  # bid 0.50 < 0.60: parent rests
    env.market.set_quote(env.ko45, "0.60", "0.62")
    env.book.on_tick()
    env.market.set_quote(env.ko45, "1.20", "1.30")
    env.book.on_tick()
    fills = env.of(ExecutionEvent)
    assert [f.execution.orderId for f in fills] == [100, 102]
    assert fills[-1].execution.price == 1.30
    assert last_status(env, 101) == "Cancelled"


def test_cancelling_parent_cancels_children(env: Env) -> None:
    bracket(env)
    env.book.cancel(1, 100)
    assert {last_status(env, i) for i in (100, 101, 102)} == {"Cancelled"}
    assert env.book.open_orders() == []


def test_cancelling_one_child_cancels_sibling(env: Env) -> None:
    bracket(env)
    env.market.set_quote(env.ko45, "0.60", "0.62")
    env.book.on_tick()
    env.book.cancel(1, 101)
    assert last_status(env, 102) == "Cancelled"


def test_held_order_cancelled_before_transmit(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(7, "SELL", 1, 0.60, transmit=False))
    env.book.cancel(1, 7)
    assert not env.of(OrderStatusEvent)
    assert env.book.open_orders() == []


def test_child_without_parent_is_refused(env: Env) -> None:
    env.book.place(1, contract(env.ko45), lmt(9, "BUY", 1, 0.30, parentId=8))
    assert [e.code for e in env.of(OrderErrorEvent)] == [10006]


def test_explicit_oca_group(env: Env) -> None:
    c = contract(env.ko45)
    env.book.place(1, c, lmt(200, "SELL", 1, 0.70, ocaGroup="g1", ocaType=1))
    env.book.place(1, c, lmt(201, "SELL", 1, 0.80, ocaGroup="g1", ocaType=1))
    env.market.set_quote(env.ko45, "0.72", "0.75")
    env.book.on_tick()
    assert [e.execution.orderId for e in env.of(ExecutionEvent)] == [200]
    assert last_status(env, 201) == "Cancelled"


def test_oca_reduce_type(env: Env) -> None:
    c = contract(env.ko45)
    env.book.place(1, c, lmt(300, "SELL", 2, 0.70, ocaGroup="g2", ocaType=2))
    env.book.place(1, c, lmt(301, "SELL", 3, 0.90, ocaGroup="g2", ocaType=2))
    env.market.set_quote(env.ko45, "0.72", "0.75")
    env.book.on_tick()
    assert env.book.order(1, 301).quantity == 1
    assert env.book.order(1, 301).status == "Submitted"


def test_children_wait_for_full_parent_fill_with_partial_fills(env: Env) -> None:
    env.new_book(partial_fills=True, seed=5)
    c = contract(env.ko45)
    env.market.set_quote(env.ko45, "0.60", "0.65")
    env.book.place(1, c, lmt(1, "SELL", 8, 0.60, transmit=False))
    env.book.place(1, c, lmt(2, "BUY", 8, 0.30, parentId=1))
    env.book.on_tick()
    parent = env.book.order(1, 1)
    assert parent is not None and 0 < parent.filled < 8
    assert last_status(env, 2) == "PreSubmitted"
    for _ in range(30):
        env.book.on_tick()
    assert parent.filled == 8
    assert last_status(env, 2) == "Submitted"


def test_unfilled_day_parent_takes_its_gtc_children_at_the_close(env: Env) -> None:
    """As at IBKR: a DAY parent that expires unfilled at the close takes its GTC take-profit
    and stop with it (they could never activate); a filled parent's children stay."""
    bracket(env)  # parent 100 at 0.60
    env.market.set_quote(env.ko45, "0.60", "0.65")
    env.book.on_tick()
    assert [e.execution.orderId for e in env.of(ExecutionEvent)] == [100]
    c = contract(env.ko45)  # a second bracket whose parent (0.95) never fills
    env.book.place(1, c, lmt(200, "SELL", 1, 0.95, transmit=False))
    env.book.place(1, c, lmt(201, "BUY", 1, 0.45, parentId=200, transmit=False, tif="GTC"))
    env.book.place(1, c, lmt(202, "BUY", 1, 0.20, parentId=200, transmit=True, tif="GTC"))
    env.book.on_tick()
    assert last_status(env, 201) == "PreSubmitted"
    env.book.end_of_day(env.clock.now().date())
    assert [last_status(env, oid) for oid in (200, 201, 202)] == ["Cancelled"] * 3
    assert [last_status(env, oid) for oid in (101, 102)] == ["Submitted"] * 2
    assert {o.orderId for _, o, _ in env.book.open_orders()} == {101, 102}
