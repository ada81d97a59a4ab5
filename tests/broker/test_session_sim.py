"""The session against the simulated gateway through the real ib_async client."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from ib_async import LimitOrder

from engine.broker.errors import BrokerError
from engine.broker.orders import OrderRefused
from engine.broker.session import ConnState
from engine.runtime.engine import Engine
from engine.sim.testing import connected_ib, running_sim
from tests.broker.conftest import sim_engine, wait_for


async def _resting_order(eng: Engine, ref: str) -> tuple[object, object]:
    und = await eng.services.qualify_underlying("AAPL")
    chain = (await eng.services.option_chain(und))[0]
    refs = await eng.services.expiry_strikes(und, chain.expirations[1], chain.trading_class)
    contract = eng.services.option_contract(refs[len(refs) // 3])
    order = LimitOrder("SELL", 1, 50.0, orderRef=ref, tif="DAY")  # far above the ask: rests
    return contract, order


async def test_connect_syncs_before_ready() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        s = eng.session
        assert s.state == ConnState.READY
        assert s.account == "DU1234567" and s.kind == "simulated"
        assert s.trading_allowed()[0]
        kinds = [e.data.get("state") for e in eng.bus.recent(50, kind="connection")]
        assert kinds.index("SYNCING") < kinds.index("READY")
        snap = await eng.services.account_snapshot()
        assert snap.net_liquidation > 0 and snap.account == "DU1234567"
        await eng.services.account_snapshot()  # unchanged figures: one "account" event only
        acct = eng.bus.recent(10, kind="account")
        assert len(acct) == 1 and acct[0].data["NetLiquidation"] == str(snap.net_liquidation)
        assert acct[0].message.startswith(
            f"DU1234567: net liquidation ${snap.net_liquidation:,.2f}, maintenance margin $"
        )


async def test_drop_and_reconnect_resyncs_without_duplicates() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        contract, order = await _resting_order(eng, "pd-test-1")
        await eng.orders.place(contract, order)  # type: ignore[arg-type]
        await wait_for(lambda: len(eng.orders.putdesk_open_trades()) == 1)
        und = await eng.services.qualify_underlying("MSFT")
        await eng.services.underlying_quote(und)
        await wait_for(lambda: gw.market_data_lines() == 0)

        assert await gw.drop_connections() == 1
        await wait_for(lambda: eng.session.connects == 2 and eng.session.state == ConnState.READY)
        refs = [t.order.orderRef for t in eng.orders.putdesk_open_trades()]
        assert refs == ["pd-test-1"]  # re-synced exactly once
        assert gw.market_data_lines() == 0  # nothing resubscribed twice, nothing left open
        q = await eng.services.underlying_quote(und)
        assert q.bid is not None
        await wait_for(lambda: gw.market_data_lines() == 0)
        assert gw.stats()["clients"] == [eng.session.client_id]


async def test_1100_blocks_orders_until_1102() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        contract, order = await _resting_order(eng, "pd-test-2")
        gw.send_connectivity(1100)
        await wait_for(lambda: eng.session.state == ConnState.HALTED)
        with pytest.raises(OrderRefused) as exc:
            await eng.orders.place(contract, order)  # type: ignore[arg-type]
        assert exc.value.reason.code == "session.halted"
        assert gw.stats()["orders"] == 0
        gw.send_connectivity(1102)
        await wait_for(lambda: eng.session.state == ConnState.READY)
        await eng.orders.place(contract, order)  # type: ignore[arg-type]
        await wait_for(lambda: gw.stats()["orders"] == 1)


async def test_1101_resubscribes_then_ready() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        gw.send_connectivity(1100)
        await wait_for(lambda: eng.session.state == ConnState.HALTED)
        gw.send_connectivity(1101)
        await wait_for(lambda: eng.session.state == ConnState.READY)
        states = [e.data.get("state") for e in eng.bus.recent(20, kind="connection")]
        assert states[-2:] == ["SYNCING", "READY"]


async def test_competing_session_makes_data_unavailable() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        und = await eng.services.qualify_underlying("AAPL")
        gw.set_competing_session(True)
        with pytest.raises(BrokerError) as exc:
            await eng.services.underlying_quote(und)
        assert exc.value.reason.code == "session.data_unavailable"
        assert eng.session.state == ConnState.DATA_UNAVAILABLE
        assert not eng.session.trading_allowed()[0]
        await wait_for(lambda: gw.market_data_lines() == 0)


async def test_live_account_needs_live_flag_and_matching_account() -> None:
    async with running_sim(account_id="U7654321") as gw:
        async with sim_engine(gw) as eng:
            contract, order = await _resting_order(eng, "pd-live-1")
            ok, why = eng.session.trading_allowed()
            assert not ok and why.code == "guard.live_flag"
            with pytest.raises(OrderRefused):
                await eng.orders.place(contract, order)  # type: ignore[arg-type]
        async with sim_engine(gw, live=True) as eng:
            ok, why = eng.session.trading_allowed()
            assert not ok and why.code == "guard.live_account"
        async with sim_engine(gw, live=True, account="U7654321") as eng:
            assert eng.session.trading_allowed() == (True, eng.session.trading_allowed()[1])
        assert gw.stats()["orders"] == 0


async def test_read_only_sends_nothing() -> None:
    async with running_sim() as gw, sim_engine(gw, read_only=True) as eng:
        contract, order = await _resting_order(eng, "pd-ro-1")
        with pytest.raises(OrderRefused) as exc:
            await eng.orders.place(contract, order)  # type: ignore[arg-type]
        assert exc.value.reason.code == "guard.read_only"
        assert gw.stats()["orders"] == 0


async def test_client_id_in_use_moves_to_the_next_id() -> None:
    async with (
        running_sim() as gw,
        connected_ib(gw, client_id=17),
        sim_engine(gw, connect_timeout_s=1) as eng,
    ):
        assert eng.session.state == ConnState.READY
        assert eng.session.client_id == 18
        codes = [e.code for e in eng.bus.recent(50, kind="connection")]
        assert "ib.326" in codes


async def test_bracket_and_kill_cancel_only_putdesk_orders() -> None:
    from engine.api.models import GetOrders, GetStatus, Kill, Resume

    async with running_sim() as gw, sim_engine(gw) as eng:
        contract, _order = await _resting_order(eng, "pd-x")
        b = await eng.orders.place_bracket(
            contract,
            1,
            Decimal("50"),
            Decimal("25"),
            Decimal("150"),
            "pd-br-1",  # type: ignore[arg-type]
        )
        assert b.parent.order.tif == "DAY" and b.take_profit.order.tif == "GTC"
        assert [t.order.transmit for t in b.trades] == [False, False, True]
        await wait_for(lambda: len(eng.orders.putdesk_open_trades()) >= 1)
        orders = (await eng.request(GetOrders())).data["orders"]
        roles = {o["order_ref"]: o["role"] for o in orders if o["order_ref"].startswith("pd-br")}
        assert roles == {"pd-br-1": "entry", "pd-br-1-tp": "take_profit", "pd-br-1-sl": "stop"}
        assert all(o["putdesk"] for o in orders if o["order_ref"].startswith("pd-br"))
        res = await eng.request(Kill(reason="test"))
        assert res.ok and res.data["cancelled"] >= 1
        st = await eng.request(GetStatus())
        assert st.data["halted"]["halted"] is True
        assert not eng.session.trading_allowed()[0]
        with pytest.raises(OrderRefused):
            await eng.orders.place(contract, LimitOrder("SELL", 1, 50.0, orderRef="pd-y"))  # type: ignore[arg-type]
        assert (await eng.request(Resume())).data["trading_allowed"] is True


async def test_fills_and_status_reach_the_bus() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        und = await eng.services.qualify_underlying("AAPL")
        chain = (await eng.services.option_chain(und))[0]
        refs = await eng.services.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        ref = refs[-3]
        q = (await eng.services.option_quotes([ref]))[ref.con_id]
        assert q.bid is not None and q.bid > 0
        contract = eng.services.option_contract(ref)
        order = LimitOrder("SELL", 1, 0.01, orderRef="pd-fill-1", tif="DAY")  # marketable
        await eng.orders.place(contract, order)
        fills: list[object] = []
        for _ in range(200):
            fills = eng.bus.recent(10, kind="order.fill")
            if fills:
                break
            gw.advance_clock(1)
            await asyncio.sleep(0.01)
        fill = eng.bus.recent(10, kind="order.fill")[0]
        assert fill.data["order_ref"] == "pd-fill-1" and fill.data["fill_shares"] == 1
        # a putdesk order's fill is logged once, by the watcher that books it: this immediate
        # event only refreshes the console (the activity log skips "debug")
        assert fill.severity == "debug"
        statuses = [e.data.get("status") for e in eng.bus.recent(100, kind="order.status")]
        assert "Filled" in statuses


async def test_overlapping_quote_batches_share_one_line() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        und = await eng.services.qualify_underlying("NVDA")
        chain = (await eng.services.option_chain(und))[0]
        refs = await eng.services.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        a, b = refs[:6], refs[3:9]
        qa, qb = await asyncio.gather(
            eng.services.option_quotes(a + a[:1]), eng.services.option_quotes(b)
        )
        assert set(qa) == {r.con_id for r in a} and set(qb) == {r.con_id for r in b}
        assert gw.stats()["peak_market_data_lines"] <= 9  # 3 strikes shared, none twice
        await wait_for(lambda: gw.market_data_lines() == 0)


async def test_positions_carry_ibkr_mark_pnl_and_the_trade_strategy() -> None:
    from engine.api.models import GetPositions
    from engine.store.db import utcnow_iso

    async with running_sim() as gw, sim_engine(gw) as eng:
        und = await eng.services.qualify_underlying("AAPL")
        chain = (await eng.services.option_chain(und))[0]
        refs = await eng.services.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        ref = refs[-3]
        contract = eng.services.option_contract(ref)
        await eng.store.insert(
            "trades",
            {
                "account_id": "DU1234567", "trade_strategy": "scanner", "symbol": "AAPL",
                "con_id": ref.con_id, "quantity": 1, "status": "open",
                "bracket_status": "active", "created_at": utcnow_iso(),
                "updated_at": utcnow_iso(),
            },
        )  # fmt: skip
        await eng.orders.place(contract, LimitOrder("SELL", 1, 0.01, orderRef="pd-pos-1"))
        rows: list[dict[str, object]] = []
        for _ in range(300):
            res = await eng.request(GetPositions())
            rows = [r for r in res.data["positions"] if r["con_id"] == ref.con_id]
            if rows and rows[0]["market_price"] is not None:
                break
            gw.advance_clock(60)
            await asyncio.sleep(0.01)
        assert rows, "the sale filled and shows as a position"
        row = rows[0]
        assert row["position"] == -1
        assert isinstance(row["market_price"], float) and row["market_price"] > 0
        assert isinstance(row["unrealized_pnl"], float)
        assert row["strategy"] == "scanner" and row["bracket_status"] == "active"
