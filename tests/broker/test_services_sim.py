"""A contract quoted twice is quoted afresh: ib_async's cached Ticker never leaks old prices."""

from __future__ import annotations

from engine.sim.testing import running_sim
from tests.broker.conftest import sim_engine


async def test_requote_after_a_gap_sees_the_new_prices() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        svc = eng.services
        und = await svc.qualify_underlying("AAPL")
        first = await svc.underlying_quote(und)
        chains = await svc.option_chain(und)
        chain = next(c for c in chains if c.trading_class == "AAPL")
        expiry = chain.expirations[1]
        strikes = await svc.expiry_strikes(und, expiry, chain.trading_class)
        price = first.last or first.bid or 0.0
        near = min(strikes, key=lambda r: abs(r.strike - 0.9 * price))
        before = (await svc.option_quotes([near]))[near.con_id]
        assert before.bid is not None and before.ask is not None

        gw.apply_gap("AAPL", -0.12)
        gw.tick()
        after_und = await svc.underlying_quote(und)
        after = (await svc.option_quotes([near]))[near.con_id]

        assert after_und.last is not None and first.last is not None
        assert after_und.last < first.last * 0.95
        assert after.bid is not None and after.bid > before.bid
        assert after.delta is not None and before.delta is not None
        assert abs(after.delta) > abs(before.delta)


async def test_market_scanner_symbols_come_from_the_gateway() -> None:
    async with running_sim(seed=3) as gw, sim_engine(gw) as eng:
        symbols = await eng.services.scanner_symbols("HIGH_OPT_IMP_VOLAT", 10, 20.0, 0)
        expected = gw.market.scan("HIGH_OPT_IMP_VOLAT", 10, 20.0, None)
        assert symbols == expected[: len(symbols)]
        assert 1 <= len(symbols) <= 10
        assert all(s.isupper() for s in symbols)
