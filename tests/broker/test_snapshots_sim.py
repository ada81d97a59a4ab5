"""Snapshots and one strike across expiries against the simulated gateway: one message per
snapshot and nothing to cancel, market data type and time carried, no line left held."""

from __future__ import annotations

import asyncio

from engine.domain import MarketDataType
from engine.sim.testing import running_sim
from tests.broker.conftest import sim_engine


async def test_underlying_quote_is_one_snapshot_message() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("AAPL")
        sent = eng.pacer.sent
        q = await svc.underlying_quote(und)
        assert eng.pacer.sent - sent == 1
        assert q.last is not None and q.last > 0 and not q.missing
        assert q.market_data_type == MarketDataType.LIVE and q.time is not None
        assert eng.pacer.lines_in_use == 0 and gw.market_data_lines() == 0
        again = await svc.underlying_quote(und)  # a fresh answer, not the cached ticker
        assert again.last is not None and eng.pacer.sent - sent == 2


async def test_option_snapshots_carry_greeks_but_no_open_interest() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("AAPL")
        price = (await svc.underlying_quote(und)).last or 0.0
        chain = next(c for c in await svc.option_chain(und) if c.trading_class == "AAPL")
        refs = await svc.expiry_strikes(und, chain.expirations[1], chain.trading_class)
        near = sorted(refs, key=lambda r: abs(r.strike - 0.9 * price))[:2]
        sent = eng.pacer.sent
        quotes = await svc.option_snapshots(near)
        assert eng.pacer.sent - sent == len(near)
        for r in near:
            q = quotes[r.con_id]
            assert q.delta is not None and q.delta < 0 and q.iv is not None
            assert q.open_interest is None
            assert q.market_data_type == MarketDataType.LIVE
        assert eng.pacer.lines_in_use == 0 and gw.market_data_lines() == 0


async def test_strike_contracts_list_one_strike_across_expiries() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("AAPL")
        chain = next(c for c in await svc.option_chain(und) if c.trading_class == "AAPL")
        refs = await svc.expiry_strikes(und, chain.expirations[0], chain.trading_class)
        k = refs[len(refs) // 2].strike
        rows = await svc.strike_contracts(und, k, chain.trading_class)
        assert rows and all(r.strike == k and r.right == "P" for r in rows)
        assert len({r.expiry for r in rows}) == len(rows) > 1
        same = next(r for r in rows if r.expiry == chain.expirations[0])
        assert same.con_id == next(r.con_id for r in refs if r.strike == k)
        sent = eng.pacer.sent
        assert await svc.strike_contracts(und, k, chain.trading_class) == rows
        assert eng.pacer.sent == sent  # cached for the day


async def test_concurrent_snapshots_of_one_contract_share_the_answer() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("MSFT")
        sent = eng.pacer.sent
        a, b = await asyncio.gather(svc.underlying_quote(und), svc.underlying_quote(und))
        assert eng.pacer.sent - sent == 1
        assert a.last is not None and a.last == b.last and not b.missing
