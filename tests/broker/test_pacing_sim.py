"""Heavy workloads stay inside IBKR's limits, measured by the simulated gateway's own counters."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from engine.sim.testing import running_sim
from tests.broker.conftest import sim_engine

SYMBOLS = ["AAPL", "MSFT", "JPM"]


async def test_scan_whatif_and_raw_burst_stay_under_limits() -> None:
    # The gateway refuses more than 35 lines (error 101) and more than 49 msgs/s (error 100).
    async with (
        running_sim(max_lines=35, max_msgs_per_sec=49) as gw,
        sim_engine(gw, market_data_lines=30) as eng,
    ):
        svc = eng.services

        async def scan(symbol: str) -> int:
            und = await svc.qualify_underlying(symbol)
            await svc.underlying_quote(und)
            chain = (await svc.option_chain(und))[0]
            refs = await svc.expiry_strikes(und, chain.expirations[1], chain.trading_class)
            wanted = refs[:22]
            quotes = await svc.option_quotes(wanted)
            assert set(quotes) == {r.con_id for r in wanted}
            finalists = refs[-4:]
            margins = await asyncio.gather(*(svc.what_if(r, 1, Decimal("1.00")) for r in finalists))
            assert all(m.init_margin_change > 0 for m in margins)
            return len(quotes)

        # ib_async traffic that never passes a pacer.message() block is paced too.
        for _ in range(45):
            eng.session.ib.client.reqCurrentTime()
        counts = await asyncio.gather(*(scan(s) for s in SYMBOLS))
        assert all(n > 10 for n in counts)
        await asyncio.sleep(0.3)
        st = gw.stats()
        assert st["peak_msgs_per_sec"] < 50
        assert st["peak_msgs_per_sec"] <= eng.pacer.max_per_s
        assert "100" not in st["errors_by_code"] and "101" not in st["errors_by_code"]
        assert st["disconnects_for_pacing"] == 0
        assert st["peak_market_data_lines"] <= 30
        assert st["market_data_lines"] == 0
        assert eng.session.connects == 1
        assert eng.pacer.stats().sent >= st["messages_received"] - 1  # every message counted


async def test_rescan_uses_the_daily_cache() -> None:
    async with running_sim() as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("AAPL")
        chain = (await svc.option_chain(und))[0]
        await svc.expiry_strikes(und, chain.expirations[0], chain.trading_class)
        before = gw.stats()["messages_received"]
        und2 = await svc.qualify_underlying("aapl")
        assert und2 == und
        await svc.option_chain(und)
        await svc.expiry_strikes(und, chain.expirations[0], chain.trading_class)
        assert gw.stats()["messages_received"] == before


async def test_order_burst_and_kill_stay_under_limits() -> None:
    from ib_async import LimitOrder

    from engine.api.models import Kill

    async with running_sim(max_msgs_per_sec=49) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("MSFT")
        chain = (await svc.option_chain(und))[0]
        refs = await svc.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        contract = svc.option_contract(refs[len(refs) // 2])
        await asyncio.gather(
            *(
                eng.orders.place(contract, LimitOrder("SELL", 1, 90.0, orderRef=f"pd-burst-{i}"))
                for i in range(60)
            )
        )
        await asyncio.sleep(0.2)
        assert len(eng.orders.putdesk_open_trades()) == 60
        res = await eng.request(Kill(reason="burst test"))
        assert res.data["cancelled"] == 60
        await asyncio.sleep(0.3)
        st = gw.stats()
        assert st["orders"] == 60
        assert st["peak_msgs_per_sec"] < 50
        assert "100" not in st["errors_by_code"] and st["disconnects_for_pacing"] == 0
