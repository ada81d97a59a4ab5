"""Recovery planning, reconcile-positions, the feeder rule, expiry/assignment and orders
changed by hand in TWS."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.domain import Reason
from engine.execution.feeder import ceiling, feed_decision
from engine.execution.intents import Intent
from engine.execution.ports import BrokerOrder, BrokerPosition
from engine.execution.reconcile_positions import compare, reconcile_positions
from engine.execution.records import Recorder
from engine.execution.recovery import plan_recovery
from engine.store.db import Store
from tests.execution.fakes import FakeExchange
from tests.execution.helpers import ACCOUNT, EXPIRY, add_lineup, config, make_exchange, workflow


def intent(ref: str, status: str) -> Intent:
    return Intent(
        1,
        ref,
        1,
        "entry",
        "XYZ",
        5,
        "SELL",
        1,
        "LMT",
        Decimal("1"),
        None,
        "DAY",
        None,
        status,
        None,
    )


def border(ref: str, status: str, error: Reason | None = None) -> BrokerOrder:
    return BrokerOrder(
        ref, 1, 11, 5, "XYZ", "SELL", 1, "LMT", Decimal("1"), None, "DAY", status, 0, 1, error=error
    )


def test_plan_recovery() -> None:
    intents = [
        intent("pd-a", "pending"),
        intent("pd-b", "sent"),
        intent("pd-c", "pending"),
        intent("pd-d", "sent"),
        intent("pd-e", "working"),
        intent("pd-f", "filled"),
    ]
    orders = [
        border("pd-a", "Submitted"),
        border("pd-e", "Inactive", Reason("ib.201", "m")),
        border("pd-zz", "Submitted"),
    ]
    fixes, orphans = plan_recovery(intents, orders, {"pd-d"})
    got = {f.order_ref: (f.status, f.reason.code) for f in fixes}
    assert got == {
        "pd-a": ("working", "recovery.matched"),
        "pd-b": ("missing", "recovery.missing"),
        "pd-c": ("void", "recovery.never_sent"),
        "pd-d": ("filled", "recovery.fill_found"),
        "pd-e": ("rejected", "ib.201"),
    }
    assert orphans == ["pd-zz"]


def pos(con: int, qty: int) -> BrokerPosition:
    return BrokerPosition(con, "XYZ", "OPT", qty, Decimal("45"), EXPIRY, Decimal("90"), "P")


def test_compare_positions() -> None:
    matched, imp, mism = compare(
        {1: ("XYZ", 2), 2: ("XYZ", 1), 3: ("XYZ", 1)},
        [pos(1, -2), pos(2, -3), pos(4, -1), pos(5, 1)],
    )
    assert matched == 1 and [p.con_id for p in imp] == [4]
    assert {(m.con_id, m.reason.code) for m in mism} == {
        (2, "reconcile.quantity"),
        (3, "reconcile.missing_at_ibkr"),
    }


async def test_manual_position_imported_estimated(store: Store) -> None:
    rec = Recorder(store, ACCOUNT)
    now = dt.datetime(2026, 11, 24, 21, tzinfo=dt.UTC)
    report = await reconcile_positions(store, ACCOUNT, [pos(77, -2)], rec, now)
    assert len(report.imported) == 1
    t = await store.fetchone("SELECT * FROM trades WHERE id=?", (report.imported[0],))
    assert t is not None and t["estimated"] == 1 and t["quantity"] == 2
    assert Decimal(t["entry_price"]) == Decimal("0.45") and t["trade_strategy"] == "manual"
    again = await reconcile_positions(store, ACCOUNT, [pos(77, -2)], rec, now)
    assert again.imported == [] and again.matched == 1


def test_feeder_rule() -> None:
    lim = ceiling(Decimal("100000"), 20)
    assert lim == Decimal("20000.00")
    assert feed_decision(Decimal("15000"), lim, Decimal("4000"))[0] == "send"
    action, why = feed_decision(Decimal("17000"), lim, Decimal("4000"))
    assert action == "stop" and why.code == "feeder.ceiling"
    assert why.text == (
        "margin $17,000.00 + pending $0.00 + $4,000.00 = $21,000.00 would pass the ceiling "
        "$20,000.00"
    )


async def test_feeder_stops_at_ceiling(store: Store) -> None:
    ex = make_exchange()
    ex.maint_margin = Decimal("12000")  # ceiling 20% of 100000 = 20000
    ex.margin_per_order = Decimal("3000")
    ids = []
    for _ in range(4):
        lid = await add_lineup(store, ex, quantity=1)
        ids.append(lid)
        await store.insert("events", {"ts": "t", "kind": "notice", "message": "x"})
    async with store.transaction() as conn:
        await conn.execute("UPDATE lineup SET margin_per_contract='3000'")
    cfg = config()
    cfg = cfg.model_copy(
        update={"budget": cfg.budget.model_copy(update={"overallocation_enabled": True})}
    )

    def hook(e: FakeExchange) -> None:
        for k in (90.0,):
            e.set_quote(e.con("XYZ", EXPIRY, k), 0.50, 0.60)

    await workflow(store, ex, cfg, hook=hook).run()
    rows = await store.fetchall("SELECT id, status, reason_code FROM lineup ORDER BY id")
    sent = [r for r in rows if r["status"] != "cancelled"]
    stopped = [r for r in rows if r["reason_code"] == "feeder.ceiling"]
    assert len(sent) == 2 and len(stopped) == 2  # 12000 + 3000 + 3000 <= 20000 < + 3000


async def test_expiry_and_assignment_settle(store: Store) -> None:
    ex = make_exchange()
    lid = await add_lineup(store, ex, quantity=1)
    lid2 = await add_lineup(store, ex, quantity=1, strike=87.5)
    wf = workflow(
        store,
        ex,
        config(),
        hook=lambda e: [e.set_quote(e.con("XYZ", EXPIRY, k), 0.5, 0.6) for k in (90.0, 87.5)],
    )
    await wf.run()
    # expiry day after the close: the options are gone and 200 shares appeared
    positions = [BrokerPosition(1, "XYZ", "STK", 200, Decimal("90"), multiplier=1)]
    closed = await wf.watcher.settle_expired(positions, dt.date(2026, 11, 27), ex.clock.now())
    assert len(closed) == 2
    trades = {r["lineup_id"]: r for r in await store.fetchall("SELECT * FROM trades")}
    assert {trades[lid]["exit_reason"], trades[lid2]["exit_reason"]} == {"assigned"}
    for t in trades.values():
        assert t["status"] == "closed" and Decimal(t["exit_price"]) == 0
        premium = Decimal(t["entry_price"]) * 100
        assert Decimal(t["net_pnl"]) == premium - Decimal(t["commission"])


async def test_expired_without_stock_and_manual_change(store: Store) -> None:
    ex = make_exchange()
    await add_lineup(store, ex, quantity=1)
    wf = workflow(store, ex, config())
    await wf.stage2()
    await wf.tier1()
    ex.books["pd-L1-1"].leg = ex.books["pd-L1-1"].leg.__class__(
        **{**ex.books["pd-L1-1"].leg.__dict__, "limit_price": Decimal("0.70")}
    )
    rep = await wf.sync()
    assert rep.manual_changes == ["pd-L1-1"]
    it = await store.fetchone("SELECT * FROM order_intents WHERE order_ref='pd-L1-1'")
    assert it is not None and it["reason_code"] == "order.changed_by_hand"
    assert it["limit_price"] == "0.70"
    assert (await wf.sync()).manual_changes == []  # reported once
    ex.set_quote(ex.con("XYZ", EXPIRY, 90.0), 0.70, 0.80)
    await ex.advance(1)
    await wf.sync()
    closed = await wf.watcher.settle_expired([], dt.date(2026, 11, 27), ex.clock.now())
    t = await store.fetchone("SELECT * FROM trades")
    assert closed and t is not None and t["exit_reason"] == "expired"
    assert Decimal(t["gross_pnl"]) == Decimal("70")


async def test_settle_expired_leaves_other_strategies_alone(store: Store) -> None:
    ex = make_exchange()
    await add_lineup(store, ex, quantity=1)
    wf = workflow(
        store, ex, config(), hook=lambda e: e.set_quote(e.con("XYZ", EXPIRY, 90.0), 0.5, 0.6)
    )
    await wf.run()
    await store.insert(
        "trades",
        {
            "account_id": wf.watcher.intents.account_id,
            "trade_strategy": "nakedtrader",
            "symbol": "SPX",
            "sec_type": "OPT",
            "con_id": 999,
            "right": "P",
            "strike": "5000",
            "expiry": "20261127",
            "quantity": 1,
            "entry_price": "1.00",
            "status": "open",
            "created_at": "2026-11-27T14:00:00+00:00",
            "updated_at": "2026-11-27T14:00:00+00:00",
        },
    )
    closed = await wf.watcher.settle_expired([], dt.date(2026, 11, 27), ex.clock.now())
    nt = await store.fetchone("SELECT status FROM trades WHERE trade_strategy='nakedtrader'")
    assert len(closed) == 1
    assert nt == {"status": "open"}
