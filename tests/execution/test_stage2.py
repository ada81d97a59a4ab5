"""Stage 2: fast path, adaptation after a gap, cancel when nothing within the guards works."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engine.domain import MarketDataType, OptionRef, Quote
from engine.execution.stage2 import Stage2Guards, StagedTrade, otm_pct, validate

NOW = dt.datetime(2026, 11, 24, 14, 28, tzinfo=dt.UTC)
STRIKES = [80.0, 82.5, 85.0, 87.5, 90.0, 92.5, 95.0]
GUARDS = Stage2Guards(
    min_otm_pct=10.0,
    min_premium=Decimal("0.20"),
    max_strikes_moved=3,
    min_open_interest=10,
    max_spread_pct=40.0,
)


def chain(bids: dict[float, float], oi: float = 100) -> list[tuple[OptionRef, Quote | None]]:
    out: list[tuple[OptionRef, Quote | None]] = []
    for i, k in enumerate(STRIKES):
        o = OptionRef("XYZ", "20261127", k, "P", 1000 + i, "XYZ")
        b = bids.get(k)
        out.append(
            (o, None if b is None else Quote(o.con_id, b, b + 0.05, open_interest=oi, time=NOW))
        )
    return out


def und(price: float, mdt: MarketDataType = MarketDataType.LIVE) -> Quote:
    return Quote(1, price - 0.01, price + 0.01, last=price, market_data_type=mdt, time=NOW)


STAGED = StagedTrade(7, "XYZ", "20261127", Decimal("90"), otm_pct(100, 90), Decimal("0.50"), 2)
BIDS = {k: 0.5 for k in STRIKES}


def test_fast_path_keeps_strike() -> None:
    d, r = validate(STAGED, und(100.5), chain(BIDS), GUARDS, NOW)
    assert d.action == "keep" and d.option is not None and d.option.strike == 90.0
    assert r.code == "stage2.fast_path"


def test_gap_down_adapts_to_same_otm() -> None:
    d, r = validate(STAGED, und(98.0), chain(BIDS), GUARDS, NOW)
    assert d.action == "swap" and d.option is not None
    assert d.option.strike == 87.5 and d.strikes_moved == 1
    assert d.otm_pct is not None and d.otm_pct >= 10.0
    assert r.code == "stage2.adapted"


def test_gap_too_large_cancels_with_reason() -> None:
    d, r = validate(STAGED, und(85.0), chain(BIDS), GUARDS, NOW)
    assert d.action == "cancel" and r.code == "stage2.gap_too_large"
    assert "3 strikes" in r.text


def test_premium_too_low_everywhere_cancels() -> None:
    d, r = validate(STAGED, und(97.0), chain({k: 0.05 for k in STRIKES}), GUARDS, NOW)
    assert d.action == "cancel" and r.code == "stage2.premium_too_low"


def test_skips_illiquid_strike_for_next_best() -> None:
    c = chain(BIDS)
    o, qt = c[3]  # 87.5
    assert qt is not None
    c[3] = (o, Quote(o.con_id, 0.5, 0.55, open_interest=1, time=NOW))
    d, _ = validate(STAGED, und(98.0), c, GUARDS, NOW)
    assert d.action == "swap" and d.option is not None and d.option.strike == 85.0


def test_gap_up_premium_collapse_moves_up() -> None:
    bids = dict(BIDS)
    bids[90.0] = 0.05
    d, _ = validate(STAGED, und(103.0), chain(bids), GUARDS, NOW)
    assert d.action == "swap" and d.option is not None and d.option.strike == 92.5
    assert otm_pct(103.0, 92.5) >= 10.0


def test_not_live_underlying_cancels() -> None:
    d, r = validate(STAGED, und(100, MarketDataType.DELAYED), chain(BIDS), GUARDS, NOW)
    assert d.action == "cancel" and r.code == "data.not_live"


def test_stale_entry_cancelled() -> None:
    staged = StagedTrade(7, "XYZ", "20261127", Decimal("90"), 10.0, Decimal("0.5"), 1, stale=True)
    d, r = validate(staged, und(100.5), chain(BIDS), GUARDS, NOW)
    assert d.action == "cancel" and r.code == "stage2.stale_entry"


def test_missing_quotes_cancel_with_reason() -> None:
    d, r = validate(STAGED, und(97.0), chain({}), GUARDS, NOW)
    assert d.action == "cancel" and r.code == "quote.missing"
