"""Bracket planning: legs, refs, prices on the grid, transmit flags, ib_async orders."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.execution.brackets import (
    entry_ref_of,
    exit_pair,
    is_putdesk_ref,
    plan_bracket,
    to_ib_order,
)
from engine.execution.pricing import on_grid, round_to_tick


def test_bracket_shape() -> None:
    b, r = plan_bracket(
        key="L7-1",
        symbol="AAPL",
        quantity=2,
        limit_price=Decimal("1.20"),
        take_profit_pct=50,
        stop_multiple=3.0,
    )
    assert b is not None, r
    e, tp, sl = b.entry, b.take_profit, b.stop
    assert sl is not None
    assert (e.order_ref, tp.order_ref, sl.order_ref) == ("pd-L7-1", "pd-L7-1-tp", "pd-L7-1-sl")
    assert (e.action, e.order_type, e.tif, e.transmit) == ("SELL", "LMT", "DAY", False)
    assert (tp.action, tp.order_type, tp.tif, tp.transmit) == ("BUY", "LMT", "GTC", False)
    assert (sl.action, sl.order_type, sl.tif, sl.transmit) == ("BUY", "STP", "GTC", True)
    assert tp.limit_price == Decimal("0.60") and sl.aux_price == Decimal("3.60")
    assert tp.parent_ref == sl.parent_ref == "pd-L7-1"
    assert entry_ref_of(sl.order_ref) == "pd-L7-1" and is_putdesk_ref(tp.order_ref)


def test_no_stop_take_profit_transmits() -> None:
    b, _ = plan_bracket(
        key="k",
        symbol="SPX",
        quantity=1,
        limit_price=Decimal("4.10"),
        take_profit_pct=50,
        stop_multiple=None,
    )
    assert b is not None and b.stop is None and b.take_profit.transmit
    assert b.take_profit.limit_price == Decimal("2.05")  # on the 0.05 grid below $3


def test_refuses_bad_inputs() -> None:
    assert (
        plan_bracket(
            key="k",
            symbol="AAPL",
            quantity=0,
            limit_price=Decimal("1"),
            take_profit_pct=50,
            stop_multiple=None,
        )[0]
        is None
    )
    assert (
        plan_bracket(
            key="k",
            symbol="AAPL",
            quantity=1,
            limit_price=Decimal("3.02"),
            take_profit_pct=50,
            stop_multiple=None,
        )[1].code
        == "bracket.price"
    )
    assert (
        plan_bracket(
            key="k",
            symbol="AAPL",
            quantity=1,
            limit_price=Decimal("0.10"),
            take_profit_pct=50,
            stop_multiple=None,
            min_premium=Decimal("0.20"),
        )[1].code
        == "bracket.below_min_premium"
    )


def test_exit_pair_and_ib_orders() -> None:
    b, _ = plan_bracket(
        key="k",
        symbol="AAPL",
        quantity=3,
        limit_price=Decimal("0.80"),
        take_profit_pct=50,
        stop_multiple=2.0,
    )
    assert b is not None
    legs = exit_pair(b, 2)
    assert [lg.quantity for lg in legs] == [2, 2] and all(lg.parent_ref is None for lg in legs)
    o = to_ib_order(legs[1], order_id=9, account="DU1", oca_group="g")
    assert o.orderType == "STP" and o.auxPrice == 1.6 and o.ocaGroup == "g" and o.ocaType == 1
    p = to_ib_order(b.entry, order_id=5)
    c = to_ib_order(b.take_profit, order_id=6, parent_id=5)
    assert p.transmit is False and p.tif == "DAY" and c.parentId == 5 and c.tif == "GTC"
    assert p.orderRef == "pd-k"


@given(
    st.decimals(Decimal("0.05"), Decimal("30"), places=2),
    st.floats(5, 95),
    st.one_of(st.none(), st.floats(1.1, 10)),
    st.sampled_from(["AAPL", "SPX"]),
)
def test_bracket_prices_on_grid(
    limit: Decimal, tp_pct: float, stop: float | None, sym: str
) -> None:
    limit = round_to_tick(limit, sym, "up")
    b, _ = plan_bracket(
        key="k",
        symbol=sym,
        quantity=1,
        limit_price=limit,
        take_profit_pct=tp_pct,
        stop_multiple=stop,
    )
    if b is None:
        return
    assert b.take_profit.limit_price is not None and on_grid(b.take_profit.limit_price, sym)
    assert b.take_profit.limit_price < limit
    if b.stop is not None:
        assert b.stop.aux_price is not None and on_grid(b.stop.aux_price, sym)
        assert b.stop.aux_price > limit
