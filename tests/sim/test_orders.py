"""Orders through the wire with the real ib_async client: what-if, fills, brackets with OCA,
partial fills, cancels, expiry/assignment. A deterministic market double drives quotes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, Option

from engine.sim.server import SimGateway
from engine.sim.testing import connected_ib, running_sim
from tests.sim.fakes import FakeMarket


@pytest.fixture
async def fake() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
async def gw(fake: FakeMarket) -> AsyncIterator[SimGateway]:
    async with running_sim(market=fake, tick_interval=0.02) as g:
        yield g


async def _until(cond, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return bool(cond())


async def _put(ib: IB, fake: FakeMarket, strike: float = 230.0, n: int = 0) -> Option:
    exp = fake.expiries[n].strftime("%Y%m%d")
    [c] = await ib.qualifyContractsAsync(Option("AAPL", exp, strike, "P", "SMART"))
    assert c is not None
    return c  # type: ignore[return-value]


async def test_what_if_numbers_and_margin_rejection(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        opt = await _put(ib, fake)
        state = await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 1, 1.95))
        assert float(state.initMarginChange) > 0
        assert float(state.equityWithLoanAfter) > 0 and state.commission > 0
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        await ib.whatIfOrderAsync(opt, LimitOrder("SELL", 100000, 1.95))
        assert 201 in errors


async def test_limit_fill_position_and_executions(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        opt = await _put(ib, fake)
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 1.90, orderRef="t-1"))
        assert await _until(trade.isDone)
        assert trade.orderStatus.status == "Filled" and trade.fills
        fill = trade.fills[0]
        assert fill.execution.time.tzinfo is not None and fill.execution.orderRef == "t-1"
        assert await _until(lambda: bool(ib.positions()))
        [pos] = ib.positions()
        assert pos.position == -1 and pos.contract.conId == opt.conId
        fills = await ib.reqExecutionsAsync()
        assert [f.execution.execId for f in fills] == [fill.execution.execId]
        done = await ib.reqCompletedOrdersAsync(False)
        assert [t.orderStatus.status for t in done] == ["Filled"]
    assert gw.stats()["fills"] == 1 and gw.stats()["orders"] == 1


async def test_bracket_take_profit_cancels_stop_with_202(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append((rid, code))
        opt = await _put(ib, fake)
        parent, tp, sl = ib.bracketOrder("SELL", 1, 1.90, 1.00, 4.00)
        parent.action, tp.action, sl.action = "SELL", "BUY", "BUY"
        trades = [ib.placeOrder(opt, o) for o in (parent, tp, sl)]
        assert await _until(lambda: trades[0].orderStatus.status == "Filled")
        assert await _until(lambda: trades[1].orderStatus.status == "Submitted")
        fake.option_overrides[opt.conId] = (0.90, 0.95)
        assert await _until(lambda: trades[1].orderStatus.status == "Filled")
        assert await _until(lambda: trades[2].orderStatus.status == "Cancelled")
        assert (sl.orderId, 202) in errors


async def test_partial_fills() -> None:
    fake = FakeMarket()
    async with (
        running_sim(market=fake, tick_interval=0.02, book_options={"partial_fills": True}) as g,
        connected_ib(g) as ib,
    ):
        opt = await _put(ib, fake)
        trade = ib.placeOrder(opt, LimitOrder("SELL", 10, 1.90))
        assert await _until(trade.isDone, timeout=5)
        assert trade.orderStatus.filled == 10
        assert sum(f.execution.shares for f in trade.fills) == 10


async def test_cancel_resting_order(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        opt = await _put(ib, fake)
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 9.00))
        assert await _until(lambda: trade.orderStatus.status == "Submitted")
        [listed] = await ib.reqAllOpenOrdersAsync()
        assert listed.order.permId == trade.order.permId
        ib.cancelOrder(trade.order)
        assert await _until(lambda: trade.orderStatus.status == "Cancelled")
        open_trades = await ib.reqOpenOrdersAsync()
        assert open_trades == [] or all(t.order.orderId != trade.order.orderId for t in open_trades)


async def test_rejected_next_order(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda rid, code, msg, c: errors.append(code)
        gw.reject_next_order("simulated margin")
        opt = await _put(ib, fake)
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 1.90))
        assert await _until(lambda: 201 in errors)
        assert trade.orderStatus.status == "Cancelled"


async def test_expiry_assignment_at_end_of_day(gw: SimGateway, fake: FakeMarket) -> None:
    async with connected_ib(gw) as ib:
        itm = await _put(ib, fake, strike=240.0)  # AAPL at 230: ITM put
        otm = await _put(ib, fake, strike=220.0)
        t1 = ib.placeOrder(itm, LimitOrder("SELL", 1, 11.90))
        t2 = ib.placeOrder(otm, LimitOrder("SELL", 1, 1.90))
        assert await _until(lambda: t1.isDone() and t2.isDone())
        assert await _until(lambda: len(ib.positions()) == 2)
        gw.end_of_day_now(fake.expiries[0])
        assert await _until(
            lambda: {p.contract.secType: p.position for p in ib.positions()} == {"STK": 100}
        )


async def test_state_survives_restart(tmp_path, fake: FakeMarket) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "sim.json"
    async with (
        running_sim(market=fake, tick_interval=0.02, state_file=state) as g,
        connected_ib(g) as ib,
    ):
        opt = await _put(ib, fake)
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 1.90))
        assert await _until(trade.isDone)
    assert state.exists()
    async with running_sim(market=fake, state_file=state) as g2, connected_ib(g2) as ib2:
        assert [p.position for p in ib2.positions()] == [-1]


async def test_clock_advance_crosses_close(fake: FakeMarket) -> None:
    from engine.market.calendar import MarketCalendar
    from engine.market.clock import SteppedClock

    clock = SteppedClock(dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC))  # 12:00 ET, early close
    async with (
        running_sim(market=fake, clock=clock, calendar=MarketCalendar(), tick_interval=0.02) as g,
        connected_ib(g) as ib,
    ):
        opt = await _put(ib, fake)  # expires 2026-11-27
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 1.90))
        assert await _until(trade.isDone)
        g.advance_clock(2 * 3600)  # past the 13:00 ET close
        assert await _until(lambda: ib.positions() == [])


async def test_closes_missed_while_stopped_run_at_the_next_start(
    tmp_path: Path, fake: FakeMarket
) -> None:
    """The gateway (a demo, `putdesk sim`) is stopped over an expiry and started a week later:
    the closes in between are run at its first tick, so the expired put does not linger."""
    from engine.market.calendar import MarketCalendar
    from engine.market.clock import SteppedClock

    state = tmp_path / "sim.json"
    clock = SteppedClock(dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC))  # Tue 10:00 ET
    kw = {"market": fake, "clock": clock, "tick_interval": 0.02, "state_file": state}
    async with running_sim(calendar=MarketCalendar(), **kw) as g, connected_ib(g) as ib:
        opt = await _put(ib, fake)  # expires 2026-11-27
        trade = ib.placeOrder(opt, LimitOrder("SELL", 1, 1.90))
        assert await _until(trade.isDone)
        assert await _until(lambda: len(ib.positions()) == 1)
    clock.set(dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC))  # the next Tuesday
    async with running_sim(calendar=MarketCalendar(), **kw) as g2, connected_ib(g2) as ib2:
        assert await _until(lambda: ib2.positions() == [])
        assert any(e.day.isoformat() == "2026-11-27" for e in g2.book.ledger.eae)


def test_demo_start_never_runs_the_simulated_day_backwards(tmp_path: Path) -> None:
    """A demo restarted the same evening started again at 09:25 of the next session, behind
    the 09:37 its orders and fills were stamped with; it goes on from the saved time now (and
    jumps ahead to the next pre-open when the saved time lies behind it)."""
    import json

    from engine.market.clock import ScaledClock
    from engine.sim.clock import demo_clock, demo_start
    from engine.sim.state import saved_sim_time

    evening = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)  # Tue 16:00 ET, closed
    pre_open = dt.datetime(2026, 11, 25, 14, 25, tzinfo=dt.UTC)  # Wed 09:25 ET
    assert demo_start(evening, "next_open", 5, None) == pre_open
    later = dt.datetime(2026, 11, 25, 14, 37, tzinfo=dt.UTC)
    assert demo_start(evening, "next_open", 5, later) == later
    assert demo_start(evening, "next_open", 5, pre_open - dt.timedelta(days=1)) == pre_open
    assert demo_start(evening, "now", 5, later) == later
    assert demo_start(evening, "now", 5, None) == evening
    open_now = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)  # Tue 11:00 ET, open
    assert demo_start(open_now, "next_open", 5, None) == open_now

    state = tmp_path / "sim-DU1.json"
    assert saved_sim_time(state) is None
    state.write_text("{not json")
    assert saved_sim_time(state) is None
    far = dt.datetime(2030, 1, 2, 15, 0, tzinfo=dt.UTC)
    state.write_text(json.dumps({"sim_time": far.isoformat()}))
    assert saved_sim_time(state) == far
    clock = demo_clock("next_open", 5, 1.0, state)
    assert isinstance(clock, ScaledClock)
    assert far <= clock.now() < far + dt.timedelta(minutes=1)
