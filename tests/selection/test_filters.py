"""Strike/expiry filters and their reasons; scoring components and renormalisation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from config.models import SelectionConfig, Weights
from engine.domain import MarketDataType, OptionRef, Quote, Reason
from engine.selection import filters as F
from engine.selection.scoring import (
    Components,
    composite,
    efficiency_raw,
    liquidity_score,
    normalise,
    safety_score,
)

TODAY = dt.date(2026, 11, 24)
CFG = SelectionConfig()


def opt(strike: float, cid: int = 1) -> OptionRef:
    return OptionRef("ABC", "20261127", strike, "P", cid, "ABC")


def quote(**kw: object) -> Quote:
    base: dict[str, object] = dict(
        con_id=1, bid=0.50, ask=0.55, iv=0.4, delta=-0.07, volume=100, open_interest=500
    )
    base.update(kw)
    return Quote(**base)  # type: ignore[arg-type]


def test_expiries_shortest_first_inside_window() -> None:
    exps = ["20261124", "20261127", "20261204", "20261211", "20261218"]
    got, why = F.expiries_in_order(exps, TODAY, CFG)
    assert why is None
    assert got == ["20261127", "20261204"]  # DTE 3 and 10; 0 and 17, 24 are outside [1, 14]


def test_expiries_closest_to_target() -> None:
    cfg = SelectionConfig(dte_preference="closest_to_target", dte_target=9)
    got, _ = F.expiries_in_order(["20261127", "20261204"], TODAY, cfg)
    assert got[0] == "20261204"


def test_no_expiry_in_window_reason_names_nearest() -> None:
    got, why = F.expiries_in_order(["20261218", "20270115"], TODAY, CFG)
    assert got == []
    assert why is not None and why.code == "no_expiry_in_window"
    assert "20261218 (24d)" in why.text


@pytest.mark.parametrize(
    ("q", "strike", "code"),
    [
        (None, 80.0, "no_quote"),
        (quote(market_data_type=MarketDataType.DELAYED), 80.0, "not_live_data"),
        (quote(bid=None), 80.0, "no_bid"),
        (quote(bid=0.0), 80.0, "no_bid"),
        (quote(delta=None), 80.0, "greeks_missing"),
        (quote(iv=None), 80.0, "greeks_missing"),
        (quote(delta=-0.45), 80.0, "delta_out_of_range"),
        (quote(delta=-0.01), 80.0, "delta_out_of_range"),
        (quote(), 95.0, "otm_below_min"),
        (quote(bid=0.05, ask=0.06), 80.0, "premium_below_min"),
        (quote(ask=None), 80.0, "no_ask"),
        (quote(bid=0.40, ask=0.80), 80.0, "spread_too_wide"),
        (quote(open_interest=10), 80.0, "oi_below_min"),
        (quote(open_interest=None), 80.0, "oi_below_min"),
    ],
)
def test_check_strike_reasons(q: Quote | None, strike: float, code: str) -> None:
    reason = F.check_strike(opt(strike), q, 100.0, CFG)
    assert reason is not None and reason.code == code
    assert reason.text


def test_check_strike_volume_when_required() -> None:
    cfg = SelectionConfig(min_volume=50)
    r = F.check_strike(opt(80), quote(volume=10), 100.0, cfg)
    assert r is not None and r.code == "volume_below_min"


def test_check_strike_passes_and_stale_allowed_under_override() -> None:
    assert F.check_strike(opt(80), quote(), 100.0, CFG) is None
    delayed = quote(market_data_type=MarketDataType.DELAYED)
    assert F.check_strike(opt(80), delayed, 100.0, CFG, allow_stale=True) is None


def test_prefilter_keeps_few_near_target_and_gives_reasons() -> None:
    refs = [opt(float(k), cid=k) for k in range(50, 121)]
    res = F.prefilter(refs, 100.0, 7 / 365, 0.5, CFG, max_quotes=2)
    assert len(res.kept) == 2
    rejected_ids = {o.con_id for o, _ in res.rejected}
    assert rejected_ids | {o.con_id for o in res.kept} == {o.con_id for o in refs}
    assert not rejected_ids & {o.con_id for o in res.kept}
    codes = {r.code for _, r in res.rejected}
    assert {"otm_below_min", "delta_estimate_out_of_range", "prefilter_not_nearest"} <= codes
    for o in res.kept:
        assert F.otm_pct(100.0, o.strike) >= CFG.min_otm_pct


def test_summarise_counts_codes() -> None:
    r = F.summarise_rejections([Reason("a", "x"), Reason("b", "y"), Reason("a", "z")])
    assert r.code == "no_strike_passed" and "2 a, 1 b" in r.text


def test_safety_prefers_low_delta_far_otm_low_iv() -> None:
    base = safety_score(0.06, 12.0, 0.4, CFG)
    assert safety_score(0.20, 12.0, 0.4, CFG) < base
    assert safety_score(0.06, 25.0, 0.4, CFG) > base
    assert safety_score(0.06, 12.0, 0.9, CFG) < base
    for args in [(0.0, 0.0, 0.0), (1.0, 100.0, 5.0)]:
        assert 0 <= safety_score(*args, CFG) <= 100


def test_liquidity_prefers_tight_spreads_and_interest() -> None:
    assert liquidity_score(2.0, 100, 5000, CFG) > liquidity_score(20.0, 100, 5000, CFG)
    assert liquidity_score(5.0, 100, 5000, CFG) > liquidity_score(5.0, 100, 50, CFG)
    assert 0 <= liquidity_score(500.0, None, None, CFG) <= 100


def test_efficiency_and_normalisation() -> None:
    a = efficiency_raw(Decimal("0.50"), 100, Decimal("1000"), 5)
    b = efficiency_raw(Decimal("0.50"), 100, Decimal("1000"), 10)
    assert a == pytest.approx(0.01) and b == pytest.approx(0.005)
    assert normalise([a, b, 0.0]) == [100.0, 50.0, 0.0]
    assert efficiency_raw(Decimal("1"), 100, Decimal("0"), 5) == 0.0


def test_composite_renormalises_without_ai() -> None:
    w = Weights()
    c = Components(safety=80, liquidity=60, efficiency=40, ai=None)
    expected = (0.4 * 80 + 0.3 * 60 + 0.1 * 40) / 0.8
    assert composite(c, w) == pytest.approx(expected, abs=1e-3)
    with_ai = composite(c.with_ai(100), w)
    assert with_ai == pytest.approx(0.4 * 80 + 0.3 * 60 + 0.1 * 40 + 0.2 * 100, abs=1e-3)
    only_ai = Weights(safety=0, liquidity=0, ai=1, efficiency=0)
    assert composite(c, only_ai) == pytest.approx(60.0)
