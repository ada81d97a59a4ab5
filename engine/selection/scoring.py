"""Composite score of a candidate strike: safety, liquidity, AI and efficiency, each 0-100.

composite = sum(w_i * c_i) / sum(w_i) over the components that are available; when the AI is
off its weight is set aside and the others are renormalised. Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from config.models import SelectionConfig, Weights


def _clamp(x: float, lo: float = 0.0, hi: float = 100.0) -> float:
    return max(lo, min(hi, x))


def safety_score(abs_delta: float, otm: float, iv: float, cfg: SelectionConfig) -> float:
    """Risk first: |delta| at or under the target scores 100, falling to 0 at delta_max;
    OTM % scores 50 at the minimum and 100 at twice it; IV scores 100 at 20 % and 0 at 100 %.
    Blend 50/30/20."""
    if abs_delta <= cfg.delta_target:
        d = 100.0
    else:
        span = max(cfg.delta_max - cfg.delta_target, 1e-9)
        d = _clamp(100.0 * (cfg.delta_max - abs_delta) / span)
    floor = max(cfg.min_otm_pct, 1.0)
    o = _clamp(50.0 * otm / floor)
    v = _clamp(100.0 * (1.0 - (iv - 0.20) / 0.80))
    return round(0.5 * d + 0.3 * o + 0.2 * v, 4)


def liquidity_score(
    spread: float, volume: float | None, open_interest: float | None, cfg: SelectionConfig
) -> float:
    """Spread (100 at zero, 0 at max_spread_pct), open interest (log scale, 100 at 10 000) and
    volume (log scale, 100 at 1 000). Blend 50/30/20."""
    s = _clamp(100.0 * (1.0 - spread / cfg.max_spread_pct))
    oi = _clamp(100.0 * math.log10(1.0 + max(open_interest or 0.0, 0.0)) / 4.0)
    vol = _clamp(100.0 * math.log10(1.0 + max(volume or 0.0, 0.0)) / 3.0)
    return round(0.5 * s + 0.3 * oi + 0.2 * vol, 4)


def efficiency_raw(
    premium: Decimal, multiplier: int, margin_per_contract: Decimal, dte_days: int
) -> float:
    """Premium per unit of margin per day (a fraction): bid x multiplier / margin / max(DTE, 1)."""
    if margin_per_contract <= 0:
        return 0.0
    return float(premium * multiplier / margin_per_contract) / max(dte_days, 1)


def normalise(values: Sequence[float]) -> list[float]:
    """Scale to 0-100 against the largest value in the set (the best scores 100)."""
    top = max(values, default=0.0)
    if top <= 0:
        return [0.0 for _ in values]
    return [round(_clamp(100.0 * v / top), 4) for v in values]


@dataclass(frozen=True)
class Components:
    """The four score components (0-100); `ai` is None when the AI is off for this candidate."""

    safety: float
    liquidity: float
    efficiency: float = 0.0
    ai: float | None = None

    def with_ai(self, ai: float | None) -> Components:
        return replace(self, ai=ai)


def composite(c: Components, w: Weights, *, use_efficiency: bool = True) -> float:
    """Weighted mean of the available components (AI set aside when None; efficiency set aside
    for the pre-score, before margin is known)."""
    parts: list[tuple[float, float]] = [(w.safety, c.safety), (w.liquidity, c.liquidity)]
    if use_efficiency:
        parts.append((w.efficiency, c.efficiency))
    if c.ai is not None:
        parts.append((w.ai, c.ai))
    total_w = sum(wi for wi, _ in parts)
    if total_w <= 0:
        return round(sum(ci for _, ci in parts) / len(parts), 4)
    return round(sum(wi * ci for wi, ci in parts) / total_w, 4)
