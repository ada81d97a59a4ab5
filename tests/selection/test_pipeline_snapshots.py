"""The scan pipeline over a broker that also offers snapshots (`option_snapshots`) and one
strike's contracts across expiries (`strike_contracts`): fewer requests, the same picks, and
never a strike judged on a snapshot (no open interest) alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, given, settings

from config.models import SelectionConfig
from engine.domain import OptionChainInfo, OptionRef, Quote, Underlying
from engine.selection import filters as F
from engine.selection.pipeline import SelectionPipeline, SymbolResult, rank
from tests.selection.fakes import NOW, FakeMarketData, SymbolSpec, make_specs
from tests.selection.test_pipeline import specs_st


@dataclass
class SnapshotFake(FakeMarketData):
    """FakeMarketData plus the two broker extras; the chain lists the union of strikes."""

    unlisted_top: bool = False  # strike_contracts finds nothing (top strike not listed)

    def _grid(self, und: Underlying, expiry: str, tc: str) -> list[OptionRef]:
        s = self.specs[und.symbol]
        st = self.step(s.price)
        out, k, i = [], st * round(s.price * 0.5 / st), 0
        while k <= s.price * 1.2:
            cid = (und.con_id * 1000 + int(expiry[-4:])) * 1000 + i
            ref = OptionRef(und.symbol, expiry, round(k, 2), "P", cid, tc)
            self._refs[cid] = (s, ref)
            out.append(ref)
            k += st
            i += 1
        return out

    async def option_chain(self, und: Underlying) -> list[OptionChainInfo]:
        [c] = await super().option_chain(und)
        strikes = tuple(r.strike for r in self._grid(und, c.expirations[0], c.trading_class))
        return [OptionChainInfo(c.symbol, c.underlying_con_id, c.trading_class, 100,
                                c.expirations, strikes)]  # fmt: skip

    async def strike_contracts(
        self, und: Underlying, strike: float, trading_class: str, right: str = "P"
    ) -> list[OptionRef]:
        self.calls["strike_contracts"] += 1
        if self.unlisted_top:
            return []
        [c] = await super().option_chain(und)
        self.calls["chain"] -= 1
        return [
            r
            for e in c.expirations
            for r in self._grid(und, e, trading_class)
            if r.strike == strike and r.right == right
        ]

    async def option_snapshots(self, options: list[OptionRef]) -> dict[int, Quote]:
        self.calls["snapshots"] += 1
        self.calls["option_quotes"] -= 1
        quotes = await self.option_quotes(options)
        del self.quoted[-len(options) :]
        return {c: Quote(**{**q.__dict__, "open_interest": None, "volume": None})
                for c, q in quotes.items()}  # fmt: skip


async def scan(md: FakeMarketData, cfg: SelectionConfig) -> list[SymbolResult]:
    res = await SelectionPipeline(md, cfg).scan(list(md.specs), NOW)
    rank(res, cfg)
    return res


async def test_hopeless_first_expiry_costs_one_contract_request_and_one_snapshot() -> None:
    md = SnapshotFake({"AAA": SymbolSpec("AAA", 100.0, 0.6, "Tech", oi=5000)})
    cfg = SelectionConfig()
    [r] = await scan(md, cfg)
    assert r.best is not None and r.expiry == "20261204"
    assert F.check_strike(r.best.option, r.best.quote, 100.0, cfg) is None
    # the 3-DTE expiry's strike list is never requested: one strike across expiries is
    assert md.calls["strike_contracts"] == 1 and md.calls["strikes"] == 1
    assert md.calls["snapshots"] >= 1
    first = [rj for rj in r.rejected if rj.expiry == "20261127"]
    assert any("strike list not requested" in rj.reason.text for rj in first)
    assert {rj.reason.code for rj in first} == {"delta_out_of_range"}
    # every finalist was judged on a streamed quote (with open interest)
    assert all(s.quote.open_interest is not None for s in r.finalists)


async def test_low_iv_symbol_requests_no_strike_list() -> None:
    md = SnapshotFake({"LOWIV": SymbolSpec("LOWIV", 100.0, 0.08, "Tech")})
    [r] = await scan(md, SelectionConfig())
    assert r.reason is not None and r.reason.code == "no_strike_passed"
    assert md.calls["strikes"] == 0 and md.calls["option_quotes"] == 0
    assert md.calls["snapshots"] == 1


async def test_unlisted_top_strike_falls_back_to_the_strike_list() -> None:
    plain = FakeMarketData({"AAA": SymbolSpec("AAA", 100.0, 0.6, "Tech", oi=5000)})
    md = SnapshotFake({"AAA": SymbolSpec("AAA", 100.0, 0.6, "Tech", oi=5000)}, unlisted_top=True)
    cfg = SelectionConfig()
    [a] = await scan(plain, cfg)
    [b] = await scan(md, cfg)
    assert md.calls["strikes"] == plain.calls["strikes"] == 2
    assert a.best is not None and b.best is not None
    assert (a.best.option.expiry, a.best.option.strike) == (
        b.best.option.expiry,
        b.best.option.strike,
    )


async def test_same_picks_as_without_the_extras() -> None:
    cfg = SelectionConfig()
    plain = FakeMarketData(make_specs(12, seed=5))
    md = SnapshotFake(make_specs(12, seed=5))
    a, b = await scan(plain, cfg), await scan(md, cfg)

    def picks(rs: list[SymbolResult]) -> list[tuple[str, float, list[float]]]:
        return [
            (r.expiry or "", r.best.option.strike if r.best else 0.0,
             sorted(s.option.strike for s in r.finalists))
            for r in rs
        ]  # fmt: skip

    assert picks(a) == picks(b)
    # no more strike lists and no more streamed quotes than without the extras
    assert md.calls["strikes"] <= plain.calls["strikes"]
    assert len(md.quoted) <= len(plain.quoted)
    assert md.calls["what_if"] == plain.calls["what_if"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=specs_st)
def test_random_universes_never_pick_outside_the_filters(
    raw: list[tuple[float, float, str, float, int, int, bool, bool]],
) -> None:
    specs = {
        f"R{i}": SymbolSpec(f"R{i}", round(p, 2), iv, sec, sp, oi, vol, live, greeks)
        for i, (p, iv, sec, sp, oi, vol, live, greeks) in enumerate(raw)
    }
    md = SnapshotFake(specs)
    cfg = SelectionConfig(min_open_interest=50)
    res = asyncio.run(scan(md, cfg))
    for r in res:
        assert (r.best is None) == (r.reason is not None)
        for s in r.finalists:
            spec = specs[r.symbol]
            assert s.quote.open_interest is not None
            assert F.check_strike(s.option, s.quote, spec.price, cfg) is None
            assert s.margin == md.margin(s.option, s.premium)
            assert s.margin > Decimal(0)
