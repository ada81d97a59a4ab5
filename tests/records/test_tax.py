"""Tax lots, wash sales and Form 8949 rows against IRS Pub. 550's worked examples (the
publication's own numbers) and the short-option rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.records.tax import (
    TaxLot,
    apply_wash_sales,
    deferred_losses,
    form_8949,
    long_term,
)

D = Decimal
_n = 0


def stock(
    qty: int,
    bought: dt.date,
    cost: str,
    sold: dt.date | None = None,
    proceeds: str | None = None,
    sym: str = "X",
) -> TaxLot:
    global _n
    _n += 1
    return TaxLot(
        lot_id=f"L{_n}",
        trade_id=_n,
        symbol=sym,
        contract=sym,
        description=f"{qty} sh {sym}",
        side="long",
        is_option=False,
        quantity=D(qty),
        opened=bought,
        acquired=bought,
        closed=sold,
        proceeds=None if proceeds is None else D(proceeds),
        cost=D(cost),
    )


def by_trade(lots: list[TaxLot], trade_id: int) -> list[TaxLot]:
    return [x for x in lots if x.trade_id == trade_id]


def test_pub550_example_1_loss_added_to_the_replacement() -> None:
    a = stock(100, dt.date(2014, 5, 1), "1000", dt.date(2014, 7, 1), "750")
    b = stock(100, dt.date(2014, 7, 5), "800")
    out = apply_wash_sales([a, b])
    (sold,) = by_trade(out, a.trade_id)
    (repl,) = by_trade(out, b.trade_id)
    assert sold.adjustment == D("250")
    assert repl.basis == D("1050") and repl.acquired == dt.date(2014, 5, 5)
    (row,) = form_8949(out, 2014)
    assert (row.code, row.adjustment, row.gain) == ("W", D("250.00"), D("0.00"))
    assert [(d.lot_id, d.amount) for d in deferred_losses(out, 2014)] == [
        (repl.lot_id, D("250.00"))
    ]


def test_pub550_replacements_bought_before_the_sale_share_the_loss() -> None:
    # 100 M bought 9/26/2013 for 5,000; 50 bought 12/19 for 2,750; 25 bought 12/27 for 1,125;
    # the 100 sold 1/9/2014 for 4,000: 750 of the 1,000 loss disallowed, 250 deductible
    a = stock(100, dt.date(2013, 9, 26), "5000", dt.date(2014, 1, 9), "4000", "M")
    b = stock(50, dt.date(2013, 12, 19), "2750", sym="M")
    c = stock(25, dt.date(2013, 12, 27), "1125", sym="M")
    out = apply_wash_sales([a, b, c])
    parts = by_trade(out, a.trade_id)
    assert sorted((p.quantity, p.adjustment) for p in parts) == [
        (D(25), D(0)),
        (D(25), D(250)),
        (D(50), D(500)),
    ]
    (rb,) = by_trade(out, b.trade_id)
    (rc,) = by_trade(out, c.trade_id)
    assert (rb.basis, rb.acquired) == (D("3250"), dt.date(2013, 9, 5))
    assert (rc.basis, rc.acquired) == (D("1375"), dt.date(2013, 9, 13))
    rows = form_8949(out, 2014)
    assert sum(r.gain for r in rows) == D("-250.00")  # the deductible part
    assert all(r.term == "short" and r.box == "A" for r in rows)


def test_pub550_only_the_first_replacements_absorb_the_loss() -> None:
    # 100 M sold 2/6/2014 at a 1,000 loss; 50 bought on each of 2/11-2/14
    a = stock(100, dt.date(2013, 9, 26), "6000", dt.date(2014, 2, 6), "5000", "M")
    buys = [stock(50, dt.date(2014, 2, d), "2500", sym="M") for d in (11, 12, 13, 14)]
    out = apply_wash_sales([a, *buys])
    added = [sum(x.basis_added for x in by_trade(out, b.trade_id)) for b in buys]
    assert added == [D(500), D(500), D(0), D(0)]


def test_pub550_a_loss_block_sold_with_gain_blocks() -> None:
    # blocks bought in 2008 at 158, 100, 95; all 300 sold 12/27/2013 at 125; 250 bought 1/9/2014
    blocks = [
        stock(100, dt.date(2008, 1, d), c, dt.date(2013, 12, 27), "12500")
        for d, c in ((5, "15800"), (6, "10000"), (7, "9500"))
    ]
    repl = stock(250, dt.date(2014, 1, 9), "25000")
    out = apply_wash_sales([*blocks, repl])
    assert [x.adjustment for x in out if x.trade_id in {b.trade_id for b in blocks}] == [
        D(3300),
        D(0),
        D(0),
    ]
    parts = sorted(by_trade(out, repl.trade_id), key=lambda x: x.quantity)
    assert [(p.quantity, p.basis, p.acquired) for p in parts] == [
        (D(100), D("13300.00"), dt.date(2008, 1, 18)),
        (D(150), D("15000.00"), dt.date(2014, 1, 9)),
    ]
    rows = form_8949(out, 2013)
    assert [(r.term, r.box, r.gain) for r in rows] == [
        ("long", "D", D("0.00")),  # 12,500 - 15,800 + 3,300
        ("long", "D", D("2500.00")),
        ("long", "D", D("3000.00")),
    ]


def short_put(
    tid: int, opened: dt.date, premium: str, closed: dt.date | None, cost: str | None
) -> TaxLot:
    return TaxLot(
        lot_id=f"P{tid}",
        trade_id=tid,
        symbol="XYZ",
        contract="XYZ 20261218 90 P",
        description="1 XYZ 18DEC26 90 P",
        side="short",
        is_option=True,
        quantity=D(1),
        opened=opened,
        acquired=opened,
        closed=closed,
        proceeds=D(premium),
        cost=None if cost is None else D(cost),
    )


def test_short_option_rows_are_short_term_dated_on_the_close() -> None:
    expired = short_put(901, dt.date(2025, 11, 3), "120.00", dt.date(2026, 12, 18), "0")
    (row,) = form_8949(apply_wash_sales([expired]), 2026)
    assert (row.acquired, row.sold, row.term, row.box) == (
        dt.date(2026, 12, 18),
        dt.date(2026, 12, 18),
        "short",
        "A",
    )  # held over a year: still short-term (Pub. 550, short options)
    assert row.gain == D("120.00") and row.code == ""


def test_short_put_bought_back_at_a_loss_and_sold_again_is_a_wash() -> None:
    first = short_put(911, dt.date(2026, 3, 2), "100.00", dt.date(2026, 3, 10), "300.00")
    again = short_put(912, dt.date(2026, 3, 20), "150.00", dt.date(2026, 4, 17), "0")
    out = apply_wash_sales([first, again])
    rows = {r.trade_id: r for r in form_8949(out, 2026)}
    assert rows[911].code == "W" and rows[911].adjustment == D("200.00")
    assert rows[911].gain == D("0.00")
    assert rows[912].cost == D("200.00") and rows[912].gain == D("-50.00")  # 150 - (0 + 200)
    # a different contract is not identical under the default policy, but is under `underlying`
    other = short_put(913, dt.date(2026, 3, 20), "150.00", None, None)
    other.contract = "XYZ 20261218 85 P"
    assert apply_wash_sales([first, other])[0].adjustment == 0
    assert apply_wash_sales([first, other], "underlying")[0].adjustment == D("200.00")


def test_a_replacement_closed_before_the_loss_sale_does_not_count() -> None:
    a = stock(10, dt.date(2026, 1, 2), "1000", dt.date(2026, 2, 20), "800")
    early = stock(10, dt.date(2026, 2, 1), "900", dt.date(2026, 2, 5), "950")
    out = apply_wash_sales([a, early])
    assert by_trade(out, a.trade_id)[0].adjustment == 0


def test_long_term_is_more_than_a_year() -> None:
    assert not long_term(dt.date(2025, 3, 1), dt.date(2026, 3, 1))
    assert long_term(dt.date(2025, 3, 1), dt.date(2026, 3, 2))
    assert long_term(dt.date(2024, 2, 29), dt.date(2025, 3, 1))


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="wash-sale policy"):
        apply_wash_sales([], "everything")  # type: ignore[arg-type]
