"""The book behind the simulated gateway, seen by a real ib_async client."""

from __future__ import annotations

import asyncio

from ib_async import LimitOrder, Option

from engine.sim.testing import connected_ib, running_sim


async def test_what_if_and_bracket_through_ib_async() -> None:
    async with running_sim(tick_interval=0.02) as gw, connected_ib(gw) as ib:
        market = gw.market
        params = market.option_params("SPY")[0]
        expiry = params.expirations[1]
        und = market.price("SPY")
        strikes = market.expiry_strikes("SPY", params.trading_class, expiry)
        strike = [k for k in strikes if k < und * 0.97][-1]
        [contract] = await ib.qualifyContractsAsync(Option("SPY", expiry, strike, "P", "SMART"))
        bid = market.option_quote(market.by_con_id(contract.conId)).bid
        state = await asyncio.wait_for(ib.whatIfOrderAsync(contract, LimitOrder("SELL", 1, bid)), 5)
        assert float(state.initMarginChange) > 0
        assert float(state.commission) == 1.02
        parent, take, stop = ib.bracketOrder("SELL", 1, bid, round(bid / 2, 2), round(bid * 3, 2))
        parent.orderRef = "wire-1"
        trades = [ib.placeOrder(contract, o) for o in (parent, take, stop)]
        for _ in range(100):
            await asyncio.sleep(0.02)
            if trades[0].orderStatus.status == "Filled" and len(ib.fills()) == 1:
                break
        assert trades[0].orderStatus.status == "Filled"
        assert [t.orderStatus.status for t in trades[1:]] == ["Submitted", "Submitted"]
        [fill] = ib.fills()
        assert fill.execution.orderRef == "wire-1"
        assert fill.commissionReport.commission == 1.02
        [pos] = ib.positions()
        assert pos.position == -1
        ib.cancelOrder(take)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if trades[2].orderStatus.status == "Cancelled":
                break
        assert [t.orderStatus.status for t in trades[1:]] == ["Cancelled", "Cancelled"]
