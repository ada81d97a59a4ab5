"""Matching Flex fills to trades booked live: by exec id, by order id; corrections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.records.importer import parse_statement
from engine.records.reconcile import allocate, reconcile_statement
from engine.store import Store
from engine.store.trades import TradesRepo
from tests.records.conftest import ORCL

D = Decimal
PAYC_EXEC = "00010209.5af58c42.01.01"


async def test_live_execution_corrected_by_exec_id(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await repo.open_trade(
        symbol="PAYC",
        quantity=1,
        entry_price=D("7.00"),
        side="long",
        right="C",
        strike=D("120"),
        con_id=311191362,
        commission=D("0.50"),
        entry_time=dt.datetime(2018, 5, 11, 15, 45, tzinfo=dt.UTC),
    )
    await repo.add_execution(
        exec_id=PAYC_EXEC,
        quantity=1,
        price=D("7.00"),
        time=dt.datetime(2018, 5, 11, 15, 45, tzinfo=dt.UTC),
        side="BOT",
        commission=D("0.50"),
        trade_id=tid,
        con_id=311191362,
    )
    summary = await reconcile_statement(store, parse_statement(ORCL.read_bytes()))
    t = await repo.get_trade(tid)
    assert t is not None
    assert t.entry_price == D("6.9") and t.commission == D("0.6378")
    assert summary.counts["corrected"] == 1
    ex = await repo.find_execution(PAYC_EXEC)
    assert ex is not None and ex.price == D("6.9") and ex.flex_transaction_id == "9004815263"
    payc = [r for r in await repo.trades_since(None) if r.symbol == "PAYC"]
    assert len(payc) == 1  # not booked twice
    n = await store.fetchone("SELECT COUNT(*) AS n FROM executions WHERE exec_id=?", (PAYC_EXEC,))
    assert n == {"n": 1}


async def test_entry_matched_by_perm_id(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await repo.open_trade(
        symbol="BMWd",
        quantity=141,
        entry_price=D("82"),
        side="long",
        sec_type="STK",
        multiplier=1,
        right=None,
        con_id=14094,
        entry_perm_id=495979395,
        trade_strategy="putdesk",
    )
    await reconcile_statement(store, parse_statement(ORCL.read_bytes()))
    t = await repo.get_trade(tid)
    assert t is not None and t.entry_price == D("81.97") and t.commission == D("16.180878")
    assert t.trade_strategy == "putdesk"
    assert len([r for r in await repo.trades_since(None) if r.symbol == "BMWd"]) == 1


def test_allocate_adds_up_exactly() -> None:
    parts = allocate(D("3.5"), [1, 1, 1])
    assert sum(parts) == D("3.5") and parts[0] == parts[1]
    assert allocate(D("4.3772"), [35, 965]) == [D("0.153202"), D("4.223998")]


async def test_pending_trade_becomes_open_when_flex_shows_its_fill(store: Store) -> None:
    repo = TradesRepo(store)
    tid = await repo.open_trade(
        symbol="ORCL",
        quantity=1,
        entry_price=None,
        right="C",
        strike=D("50"),
        con_id=286599259,
        trade_strategy="nakedtrader",
        entry_order_ref="nt-call",
    )
    await repo.set_trade_fields(tid, status="pending", entry_perm_id=None)
    text = (
        ORCL.read_text()
        .replace(
            'extExecID="S1510445077788"', 'extExecID="S1510445077788" orderReference="nt-call"'
        )
        .replace(
            'orderReference="" volatilityOrderLink="" exchOrderId="N/A" extExecID="S15',
            'volatilityOrderLink="" exchOrderId="N/A" extExecID="S15',
        )
    )
    await reconcile_statement(store, parse_statement(text))
    t = await repo.get_trade(tid)
    assert t is not None and t.status == "open" and t.entry_price == D("0.55")
    assert t.commission == D("3.5")
