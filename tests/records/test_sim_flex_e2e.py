"""End to end against the simulated gateway's Flex Web Service: trades in the simulated
book, a download through FlexClient, reconcile-eod, and the database corrected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from config.secrets import Secret
from engine.market.clock import SteppedClock
from engine.records.flex_client import FlexClient
from engine.records.importer import parse_statement
from engine.records.reconcile import reconcile_statement
from engine.sim.book import Book
from engine.sim.flex_service import FlexService
from engine.store import Store
from engine.store.trades import TradesRepo
from tests.sim_book.conftest import EXPIRY, START, make_market
from tests.sim_book.fakes import Spec, contract, lmt

D = Decimal


@dataclass
class Sim:
    book: Book
    market: object
    ko45: Spec
    flex: FlexService


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    market = make_market()
    clock = SteppedClock(START)
    book = Book(market, clock, listener=lambda e: None)
    ko45 = market.add_option("KO", EXPIRY, "45", "P", "0.50", "0.55")
    flex = FlexService(book, rate_limit=False)
    await flex.start()
    try:
        yield Sim(book, market, ko45, flex)
    finally:
        await flex.stop()


async def _no_sleep(_: float) -> None:
    return None


async def _sync(sim: Sim, store: Store) -> tuple[object, object]:
    client = FlexClient(sim.flex.base_url, Secret(sim.flex.token), sleep=_no_sleep)
    dl = await client.fetch(sim.flex.activity_query_id)
    stmt = parse_statement(dl.data)
    return stmt, await reconcile_statement(store, stmt, reference_code=dl.reference_code)


async def test_simulated_book_synced_and_database_corrected(sim: Sim, store: Store) -> None:
    repo = TradesRepo(store)
    # putdesk sold 2 KO 45 puts (orderRef pd-ko-1) and booked an estimated entry of 0.52
    sim.book.place(1, contract(sim.ko45), lmt(1, "SELL", 2, 0.50, orderRef="pd-ko-1"))
    sim.book.on_tick()
    tid = await repo.open_trade(
        symbol="KO",
        quantity=2,
        entry_price=D("0.52"),
        entry_time=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        con_id=sim.ko45.con_id,
        strike=D("45"),
        expiry=EXPIRY.strftime("%Y%m%d"),
        entry_order_ref="pd-ko-1",
    )
    # a manual round trip the same day, outside putdesk
    sim.book.place(1, contract(sim.ko45), lmt(2, "SELL", 1, 0.50))
    sim.book.on_tick()
    sim.book.place(1, contract(sim.ko45), lmt(3, "BUY", 1, 0.55))
    sim.book.on_tick()
    # the put expires worthless at the close on expiry day
    sim.market.settlements[("KO", EXPIRY)] = D("47")  # type: ignore[attr-defined]
    sim.book.end_of_day(EXPIRY)

    stmt, summary = await _sync(sim, store)
    assert summary.problems == []  # type: ignore[attr-defined]
    ours = await repo.get_trade(tid)
    assert ours is not None
    assert ours.entry_price == D("0.50")  # corrected from 0.52 by the statement
    assert (ours.status, ours.exit_reason, ours.exit_price) == ("closed", "expired", D("0"))
    fills = [f for f in stmt.fills if f.order_ref == "pd-ko-1"]  # type: ignore[attr-defined]
    commission = sum((f.commission for f in fills), D(0))
    assert commission > 0 and ours.commission == commission
    assert ours.gross_pnl == D("100") and ours.net_pnl == D("100") - commission
    manual = [t for t in await repo.trades_since(None) if t.trade_strategy == "manual"]
    assert len(manual) == 1
    rt = manual[0]
    assert (rt.side, rt.quantity, rt.entry_price, rt.exit_price) == (
        "short",
        1,
        D("0.50"),
        D("0.55"),
    )
    assert rt.status == "closed" and rt.gross_pnl == D("-5")
    assert rt.net_pnl == rt.gross_pnl - rt.commission and rt.commission > 0

    _, again = await _sync(sim, store)
    assert again.rows_new == 0 and again.changes == []  # type: ignore[attr-defined]


async def test_simulated_assignment_books_stock_with_premium_basis(sim: Sim, store: Store) -> None:
    sim.book.place(1, contract(sim.ko45), lmt(1, "SELL", 1, 0.50, orderRef="pd-ko-2"))
    sim.book.on_tick()
    sim.market.settlements[("KO", EXPIRY)] = D("44")  # type: ignore[attr-defined]
    sim.market.prices["KO"] = D("44")  # type: ignore[attr-defined]
    sim.book.end_of_day(EXPIRY)
    await _sync(sim, store)
    trades = await TradesRepo(store).trades_since(None)
    put = next(t for t in trades if t.sec_type == "OPT")
    stock = next(t for t in trades if t.sec_type == "STK")
    assert (put.exit_reason, put.exit_price, put.gross_pnl) == ("assigned", D("0"), D("50"))
    assert (stock.side, stock.quantity, stock.entry_price) == ("long", 100, D("45"))
    assert stock.related_trade_id == put.id and stock.basis_per_share == D("44.50")
