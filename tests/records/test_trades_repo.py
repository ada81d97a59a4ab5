"""engine.store.trades: the repository execution and NakedTrader book through."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.store import Store
from engine.store.trades import TradeError, TradesRepo

D = Decimal
T0 = dt.datetime(2026, 11, 24, 14, 35, tzinfo=dt.UTC)


async def _open(repo: TradesRepo, **kw: object) -> int:
    args: dict[str, object] = {
        "symbol": "KO",
        "quantity": 2,
        "entry_price": D("0.50"),
        "entry_time": T0,
        "con_id": 555,
        "strike": D("45"),
        "expiry": "20261127",
        "entry_order_ref": "pd-1",
        "entry_order_id": 11,
        "entry_perm_id": 9011,
        "commission": D("1.35"),
    }
    args.update(kw)
    return await repo.open_trade(**args)  # type: ignore[arg-type]


async def test_short_put_pnl_is_exact(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await _open(repo)
    t = await repo.close_trade(tid, D("0.25"), T0 + dt.timedelta(hours=3), "take_profit", D("1.30"))
    assert t.gross_pnl == D("50.00")  # (0.50 - 0.25) * 100 * 2
    assert t.commission == D("2.65") and t.net_pnl == D("47.35")
    row = await store.fetchone(
        "SELECT gross_pnl, net_pnl, commission FROM trades WHERE id=?", (tid,)
    )
    assert row == {"gross_pnl": "50.00", "net_pnl": "47.35", "commission": "2.65"}
    again = await repo.close_trade(tid, D("9"), None, "stop", D("5"))
    assert again.net_pnl == D("47.35") and again.exit_reason == "take_profit"


async def test_long_trade_and_float_refused(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await _open(
        repo,
        side="long",
        sec_type="STK",
        multiplier=1,
        quantity=100,
        entry_price=D("45"),
        commission=D("1"),
    )
    t = await repo.close_trade(tid, D("47.5"), T0, "closed", D("1"))
    assert t.gross_pnl == D("250.0") and t.net_pnl == D("248.0")
    with pytest.raises(TradeError):
        await repo.close_trade(await _open(repo), 0.25, T0, "x")  # type: ignore[arg-type]
    with pytest.raises(TradeError):
        await _open(repo, side="sideways")


async def test_add_execution_idempotent(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await _open(repo)
    kw = {
        "quantity": 2,
        "price": D("0.50"),
        "time": T0,
        "side": "SLD",
        "exec_id": "e1",
        "trade_id": tid,
    }
    first = await repo.add_execution(**kw)  # type: ignore[arg-type]
    second = await repo.add_execution(**kw)  # type: ignore[arg-type]
    assert first.created and not second.created and first.id == second.id
    third = await repo.add_execution(
        flex_transaction_id="tx9", exec_id="e1", quantity=2, price=D("0.5"), time=T0, side="SELL"
    )
    assert not third.created
    row = await store.fetchone(
        "SELECT COUNT(*) AS n, MAX(flex_transaction_id) AS f FROM executions"
    )
    assert row == {"n": 1, "f": "tx9"}
    by_flex = await repo.add_execution(
        flex_transaction_id="tx9", quantity=2, price=D("0.5"), time=T0, side="SELL"
    )
    assert by_flex.id == first.id and not by_flex.created


async def test_commission_reports_are_idempotent_per_execution(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await _open(repo, commission=D("0"))
    await repo.add_execution(
        quantity=2, price=D("0.5"), time=T0, side="SLD", exec_id="e1", trade_id=tid
    )
    await repo.add_commission(tid, D("1.35"), exec_id="e1")
    t = await repo.add_commission(tid, D("1.35"), exec_id="e1")
    assert t.commission == D("1.35")
    t = await repo.add_commission(tid, D("0.10"))
    assert t.commission == D("1.45")
    ex = await repo.find_execution("e1")
    assert ex is not None and ex.commission == D("1.35")


async def test_finders_and_lists(store: Store) -> None:
    repo = TradesRepo(store)
    a = await _open(repo)
    b = await _open(
        repo,
        entry_order_ref="nt-1",
        entry_order_id=12,
        entry_perm_id=9012,
        trade_strategy="nakedtrader",
        con_id=777,
    )
    await repo.update_bracket_status(a, "active", exit_order_id=21, stop_order_id=22)
    assert (await repo.find_trade_by_order_ref("pd-1")).id == a  # type: ignore[union-attr]
    assert (await repo.find_trade_by_order_id(22)).id == a  # type: ignore[union-attr]
    assert (await repo.find_trade_by_perm_id(9012)).id == b  # type: ignore[union-attr]
    assert (await repo.find_trade_by_con_id(777)).id == b  # type: ignore[union-attr]
    assert await repo.find_trade_by_order_ref("nope") is None
    assert [t.id for t in await repo.open_trades()] == [a, b]
    assert [t.id for t in await repo.open_trades("nakedtrader")] == [b]
    await repo.close_trade(a, D("0"), T0 + dt.timedelta(days=3), "expired")
    assert [t.id for t in await repo.open_trades()] == [b]
    assert [t.id for t in await repo.trades_since(dt.date(2026, 11, 24))] == [a, b]
    assert await repo.trades_since(dt.date(2026, 11, 28)) == []
    t = await repo.get_trade(a)
    assert t is not None and t.bracket_status == "active" and t.exit_order_id == 21
    [s1] = await repo.pnl_summary()  # closed trades only
    assert (s1.strategy, s1.currency, s1.closed, s1.wins) == ("putdesk", "USD", 1, 1)
    assert (s1.gross, s1.commission, s1.net) == (D("100.00"), D("1.35"), D("98.65"))
    with pytest.raises(TradeError):
        await repo.update_bracket_status(999, "x")


async def test_orders_upsert(store: Store) -> None:
    repo = TradesRepo(store)
    oid = await repo.upsert_order(
        order_id=5,
        perm_id=77,
        order_ref="pd-1",
        status="Submitted",
        limit_price=D("0.50"),
        client_id=17,
    )
    same = await repo.upsert_order(
        order_id=5, perm_id=77, status="Filled", filled=2, avg_fill_price=D("0.5"), client_id=17
    )
    assert oid == same
    [row] = await repo.orders_for_ref("pd-1")
    assert (row["status"], row["filled"], row["limit_price"], row["avg_fill_price"]) == (
        "Filled",
        2,
        "0.50",
        "0.5",
    )


async def test_writes_join_the_callers_transaction(store: Store) -> None:
    repo = TradesRepo(store)
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            tid = await _open(repo, conn=conn)
            await repo.add_execution(
                exec_id="e9",
                quantity=2,
                price=D("0.5"),
                time=T0,
                side="SLD",
                trade_id=tid,
                conn=conn,
            )
            await repo.close_trade(tid, D("0"), T0, "expired", conn=conn)
            raise RuntimeError("decision failed after booking")
    assert await store.fetchall("SELECT id FROM trades") == []
    assert await store.fetchall("SELECT id FROM executions") == []
    async with store.transaction() as conn:
        tid = await _open(repo, conn=conn)
    assert (await repo.get_trade(tid)) is not None
