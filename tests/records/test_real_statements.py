"""Both real IBKR Flex statements booked end to end, with figures checked by hand."""

from __future__ import annotations

from decimal import Decimal

from engine.records.importer import parse_statement
from engine.records.reconcile import reconcile_statement
from engine.store import Store
from engine.store.trades import TradeRow, TradesRepo
from tests.records.conftest import EAE, ORCL

D = Decimal


async def _book(store: Store, path: object) -> list[TradeRow]:
    stmt = parse_statement(path.read_bytes())  # type: ignore[attr-defined]
    summary = await reconcile_statement(store, stmt)
    assert summary.problems == []
    return await TradesRepo(store).trades_since(None)


async def _snapshot(store: Store) -> tuple[list[dict], list[dict]]:
    return (
        await store.fetchall("SELECT * FROM trades ORDER BY id"),
        await store.fetchall("SELECT * FROM executions ORDER BY id"),
    )


async def test_orcl_put_sold_then_assigned(store: Store) -> None:
    trades = await _book(store, ORCL)
    assert len(trades) == 8  # 9 executions, one of them closes the put
    put = next(t for t in trades if t.symbol == "ORCL" and t.right == "P")
    assert (put.side, put.quantity, put.strike, put.expiry) == ("short", 1, D("50"), "20170915")
    assert put.entry_price == D("0.53")
    assert put.commission == D("3.5")
    assert put.status == "closed" and put.exit_reason == "assigned"
    assert put.exit_price == D("0")
    assert put.gross_pnl == D("53")  # (0.53 - 0) * 100 * 1
    assert put.net_pnl == D("49.5")  # 53 - 3.5
    stock = next(t for t in trades if t.symbol == "ORCL" and t.sec_type == "STK")
    assert (stock.side, stock.quantity, stock.multiplier) == ("long", 100, 1)
    assert stock.entry_price == D("50")
    assert stock.basis_adjustment == D("-0.53")
    assert stock.basis_per_share == D("49.47")  # strike - premium per share
    assert stock.related_trade_id == put.id
    assert stock.status == "open"
    assert stock.commission == D("2")
    call = next(t for t in trades if t.symbol == "ORCL" and t.right == "C")
    assert call.status == "open" and call.side == "short" and call.entry_price == D("0.55")
    eur = [t for t in trades if t.currency == "EUR"]
    assert {t.symbol for t in eur} == {"BMWd", "DBKEUR", "H5E", "BAS"}
    execs = await store.fetchall("SELECT * FROM executions")
    assert len(execs) == 9
    assert {e["flex_transaction_id"] for e in execs} >= {"trade:1908991474", "9004815263"}


async def test_option_eae_statement(store: Store) -> None:
    trades = await _book(store, EAE)
    execs = await store.fetchall("SELECT * FROM executions")
    rows = await store.fetchall("SELECT kind, COUNT(*) AS n FROM flex_rows GROUP BY kind")
    assert len(execs) == 39
    assert {r["kind"]: r["n"] for r in rows} == {"trade": 39, "eae": 13}
    assert len(trades) == 33  # 20 opened, 1 split off (SHIR), 12 closes of older holdings
    by = {}
    for t in trades:
        by.setdefault((t.symbol, t.sec_type), []).append(t)
    # TLT 89.5 calls: three bought (0.20, 0.20, 0.14) and all expired worthless
    tlt = sorted(by[("TLT", "OPT")], key=lambda t: t.id)
    assert [t.exit_reason for t in tlt] == ["expired"] * 3
    assert [t.net_pnl for t in tlt] == [D("-21.52795"), D("-20.82795"), D("-14.70795")]
    # SA 17 call sold at 0.77 (commission 0.30424) and assigned; shares delivered at 17
    sa_call = by[("SA", "OPT")][0]
    assert (sa_call.side, sa_call.exit_reason, sa_call.net_pnl) == (
        "short",
        "assigned",
        D("76.69576"),
    )
    sa_legs = [t for t in by[("SA", "STK")] if t.related_trade_id == sa_call.id]
    assert len(sa_legs) == 1
    assert sa_legs[0].exit_price == D("17") and sa_legs[0].basis_adjustment == D("-0.77")
    # SHIR: 1000 + 1000 bought, 35 sold -> 35 split off the first lot and closed
    shir = sorted(by[("SHIR", "STK")], key=lambda t: t.id)
    assert sorted(t.quantity for t in shir if t.status == "open") == [965, 1000]
    sold = next(t for t in shir if t.status == "closed")
    # entry commission 4.3772 * 35/1000 = 0.153202, plus the sale's 3.58
    assert sold.commission == D("3.733202")
    assert sold.gross_pnl == D("0.595")  # (4.305 - 4.288) * 35
    assert sold.net_pnl == D("-3.138202")
    # expiries of short options sold before the statement: booked, entry unknown
    chuf5 = by[("CHUF5", "FOP")][0]
    assert (chuf5.side, chuf5.quantity, chuf5.exit_reason, chuf5.estimated) == (
        "short",
        6,
        "expired",
        True,
    )
    assert chuf5.net_pnl is None
    # open positions match the statement's OpenPositions
    open_qty: dict[str, int] = {}
    for t in trades:
        if t.status == "open":
            open_qty[t.symbol] = open_qty.get(t.symbol, 0) + t.quantity
    assert open_qty["SHIR"] == 1965 and open_qty["WY"] == 100 + 2 and open_qty["CL"] == 15
    assert open_qty["ASML"] == 2 and open_qty["CHUF6"] == 1
    # futures: short 1 @ 1.265 bought back at 1.25 -> 0.015 * 125000 = 1875
    fut = sorted(by[("6SZ5", "FUT")], key=lambda t: t.id)
    assert fut[0].gross_pnl == D("1875") and fut[1].net_pnl == D("-202.47")
    expired = sum(1 for t in trades if t.exit_reason == "expired")
    assert expired == 5  # TLT x3, IGIC call, CHUF5


async def test_second_run_changes_nothing(store: Store) -> None:
    for path in (ORCL, EAE):
        stmt = parse_statement(path.read_bytes())
        first = await reconcile_statement(store, stmt)
        assert first.rows_new > 0
    before = await _snapshot(store)
    for path in (ORCL, EAE):
        again = await reconcile_statement(store, parse_statement(path.read_bytes()))
        assert again.rows_new == 0 and again.changes == [] and again.status == "unchanged"
    assert await _snapshot(store) == before


async def test_pnl_summary_by_strategy_and_currency(store: Store) -> None:
    await _book(store, EAE)
    summary = await TradesRepo(store).pnl_summary()
    usd = next(s for s in summary if s.currency == "USD")
    trades = await TradesRepo(store).trades_since(None, status="closed")
    expected = sum(
        (t.net_pnl for t in trades if t.currency == "USD" and t.net_pnl is not None), D(0)
    )
    assert usd.net == expected
    assert usd.gross - usd.commission == usd.net
    assert usd.unpriced == sum(1 for t in trades if t.currency == "USD" and t.net_pnl is None)
