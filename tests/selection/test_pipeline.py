"""The scan pipeline against a fake MarketData: reasons, request economy, day cache, and
properties over random universes and chains (one strike per symbol, inside every filter,
auto-select never over budget or a sector cap)."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.models import BudgetConfig, SelectionConfig
from engine.selection import filters as F
from engine.selection.ai import AIVerdict
from engine.selection.pipeline import DayCache, SelectionPipeline, apply_ai, rank
from engine.selection.portfolio import BudgetState, PortfolioCandidate, auto_select
from tests.selection.fakes import NOW, FakeMarketData, SymbolSpec, make_specs


async def scan(md: FakeMarketData, cfg: SelectionConfig, **kw: object) -> list:  # type: ignore[type-arg]
    pipe = SelectionPipeline(md, cfg, **kw)  # type: ignore[arg-type]
    res = await pipe.scan(list(md.specs), NOW)
    rank(res, cfg)
    return res


async def test_happy_path_one_best_strike_with_margin() -> None:
    md = FakeMarketData({"AAA": SymbolSpec("AAA", 100.0, 0.6, "Tech", oi=5000)})
    cfg = SelectionConfig()
    [r] = await scan(md, cfg)
    assert r.reason is None and r.best is not None
    b = r.best
    assert b.margin == md.margin(b.option, b.premium)
    assert 1 <= len(r.finalists) <= cfg.finalists_per_symbol
    assert F.check_strike(b.option, b.quote, 100.0, cfg) is None
    # 3 DTE: the eligible strike nearest the money (90) has |delta| < 0.05, so no farther
    # strike can pass: nothing else is quoted there and the next expiry is tried
    first = [rj for rj in r.rejected if rj.expiry == "20261127"]
    assert {rj.reason.code for rj in first} == {"otm_below_min", "delta_out_of_range"}
    assert r.expiry == "20261204"
    assert all(
        0 <= x <= 100
        for x in (b.components.safety, b.components.liquidity, b.components.efficiency)
    )
    assert r.rejected and all(rj.reason.code and rj.reason.text for rj in r.rejected)
    # request economy per expiry tried: one probe + one batch of at most finalists strikes
    assert md.calls["option_quotes"] == 3
    assert len(md.quoted) <= 2 * (1 + cfg.finalists_per_symbol)
    assert md.calls["what_if"] == len(r.finalists)


async def test_symbol_level_reasons() -> None:
    specs = {
        "LOWIV": SymbolSpec("LOWIV", 100.0, 0.08, "Tech"),
        "DELAY": SymbolSpec("DELAY", 100.0, 0.6, "Tech", live=False),
        "NOEXP": SymbolSpec("NOEXP", 100.0, 0.6, "Tech", expirations=["20270115"]),
        "NOGRK": SymbolSpec("NOGRK", 100.0, 0.6, "Tech", greeks=False),
        "THIN": SymbolSpec("THIN", 100.0, 0.6, "Tech", oi=5),
        "NOMRG": SymbolSpec("NOMRG", 100.0, 0.6, "Tech"),
    }
    md = FakeMarketData(specs, fail_what_if={"NOMRG"})
    pipe = SelectionPipeline(md, SelectionConfig())
    res = {r.symbol: r for r in await pipe.scan([*specs, "ZZZZ"], NOW)}
    codes = {s: (r.reason.code if r.reason else None) for s, r in res.items()}
    assert codes == {
        "LOWIV": "no_strike_passed",
        "DELAY": "not_live_data",
        "NOEXP": "no_expiry_in_window",
        "NOGRK": "no_strike_passed",
        "THIN": "no_strike_passed",
        "NOMRG": "margin_unavailable",
        "ZZZZ": "qualify_failed",
    }
    assert "greeks_missing" in res["NOGRK"].reason.text  # type: ignore[union-attr]
    assert "oi_below_min" in res["THIN"].reason.text  # type: ignore[union-attr]
    assert {rj.reason.code for rj in res["NOMRG"].rejected} >= {"margin_unavailable"}
    # a second expiry is tried when the first gives nothing (bounded to two)
    assert {rj.expiry for rj in res["THIN"].rejected} == {"20261127", "20261204"}


async def test_override_scans_delayed_data_marked_stale() -> None:
    md = FakeMarketData({"DELAY": SymbolSpec("DELAY", 100.0, 0.6, "Tech", live=False)})
    pipe = SelectionPipeline(md, SelectionConfig())
    [r] = await pipe.scan(["DELAY"], NOW, allow_stale=True)
    assert r.reason is None and r.stale
    assert "stale" in r.data_flags and "delayed" in r.data_flags


async def test_rescan_uses_day_cache() -> None:
    md = FakeMarketData(make_specs(5))
    cache = DayCache()
    cfg = SelectionConfig()
    await SelectionPipeline(md, cfg, cache=cache).scan(list(md.specs), NOW)
    first = Counter(md.calls)
    await SelectionPipeline(md, cfg, cache=cache).scan(list(md.specs), NOW)
    second = md.calls - first
    assert second["qualify"] == second["chain"] == second["strikes"] == 0
    assert second["und_quote"] == 5 and second["option_quotes"] >= 5


async def test_progress_callback_counts_every_symbol() -> None:
    md = FakeMarketData(make_specs(7))
    seen: list[tuple[str, int, int]] = []

    async def progress(res, done: int, total: int) -> None:  # type: ignore[no-untyped-def]
        seen.append((res.symbol, done, total))

    await SelectionPipeline(md, SelectionConfig(), concurrency=3).scan(
        list(md.specs), NOW, on_symbol=progress
    )
    assert [d for _, d, _ in seen] == list(range(1, 8))
    assert {s for s, _, _ in seen} == set(md.specs)


async def test_ai_scores_applied_or_set_aside() -> None:
    md = FakeMarketData(make_specs(6, seed=3))
    cfg = SelectionConfig()
    res = await scan(md, cfg)
    best = [r for r in res if r.best]
    assert best
    before = {r.symbol: r.best.score for r in best}
    apply_ai(res, AIVerdict(False, "AI off: no API key"), cfg)
    assert {r.symbol: r.best.score for r in best} == before
    assert all(r.ai_reason == "AI off: no API key" for r in best)
    apply_ai(res, AIVerdict(True, "AI on", {r.symbol: (100.0, "fine") for r in best}), cfg)
    for r in best:
        assert r.best.components.ai == 100.0
        assert r.best.score >= before[r.symbol]


specs_st = st.lists(
    st.builds(
        lambda p, iv, sec, sp, oi, vol, live, greeks: (p, iv, sec, sp, oi, vol, live, greeks),
        st.floats(5, 900),
        st.floats(0.05, 1.5),
        st.sampled_from(["Tech", "Energy", "Health", "Fin", "Util"]),
        st.floats(0.0, 0.3),
        st.sampled_from([0, 10, 60, 500, 50_000]),
        st.sampled_from([0, 5, 500]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=specs_st,
    delta_max=st.floats(0.1, 0.4),
    min_otm=st.floats(0, 20),
    min_oi=st.sampled_from([0, 50, 1000]),
    nlv=st.integers(20_000, 3_000_000),
    cap=st.integers(1, 4),
    qty=st.integers(1, 4),
)
def test_random_universes_properties(
    raw: list[tuple[float, float, str, float, int, int, bool, bool]],
    delta_max: float,
    min_otm: float,
    min_oi: int,
    nlv: int,
    cap: int,
    qty: int,
) -> None:
    specs = {
        f"R{i}": SymbolSpec(f"R{i}", round(p, 2), iv, sec, sp, oi, vol, live, greeks)
        for i, (p, iv, sec, sp, oi, vol, live, greeks) in enumerate(raw)
    }
    md = FakeMarketData(specs, nlv=Decimal(nlv), maint=Decimal(nlv) / 20)
    cfg = SelectionConfig(
        delta_max=delta_max,
        min_otm_pct=min_otm,
        min_open_interest=min_oi,
        contracts_per_trade=qty,
    )
    res = asyncio.run(scan(md, cfg))
    assert [r.symbol for r in res] == list(specs)
    for r in res:
        assert (r.best is None) == (r.reason is not None)
        if r.reason is not None:
            assert r.reason.code and r.reason.text
        if r.best is None:
            continue
        spec = specs[r.symbol]
        b = r.best
        assert F.check_strike(b.option, b.quote, spec.price, cfg) is None
        assert abs(b.quote.delta) <= cfg.delta_max  # type: ignore[arg-type]
        assert F.otm_pct(spec.price, b.option.strike) >= cfg.min_otm_pct
        assert cfg.dte_min <= b.dte <= cfg.dte_max
        assert b.margin == md.margin(b.option, b.premium)
        assert len({s.option.expiry for s in r.finalists}) == 1
        assert all(rj.reason.code for rj in r.rejected)
    cands = [
        PortfolioCandidate(i, r.symbol, r.sector, r.best.score, r.best.margin, r.best.premium)
        for i, r in enumerate(res)
        if r.best is not None
    ]
    st0 = BudgetState(Decimal(nlv), md.maint, 20.0)
    sel = auto_select(cands, st0, cfg, BudgetConfig(max_per_sector=cap))
    total = md.maint + sum((p.margin for p in sel.picks), Decimal(0))
    assert not sel.picks or total <= st0.ceiling
    assert len({p.candidate.symbol for p in sel.picks}) == len(sel.picks)
    assert max(Counter(p.candidate.sector for p in sel.picks).values(), default=0) <= cap


async def test_hopeless_later_expiry_not_requested() -> None:
    md = FakeMarketData({"LOWIV": SymbolSpec("LOWIV", 100.0, 0.08, "Tech")})
    [r] = await SelectionPipeline(md, SelectionConfig()).scan(["LOWIV"], NOW)
    assert r.reason is not None and r.reason.code == "no_strike_passed"
    skipped = [rj for rj in r.rejected if rj.expiry == "20261204"]
    assert len(skipped) == 1 and skipped[0].reason.code == "delta_estimate_out_of_range"
    assert "not requested" in skipped[0].reason.text
    assert md.calls["strikes"] == 1 and md.calls["option_quotes"] == 1


async def test_later_expiry_tried_when_it_can_reach_delta_min() -> None:
    md = FakeMarketData({"MID": SymbolSpec("MID", 100.0, 0.6, "Tech")})
    [r] = await SelectionPipeline(md, SelectionConfig()).scan(["MID"], NOW)
    assert r.best is None or r.expiry == "20261204"
    assert md.calls["strikes"] == 2
