"""Market regime signals: VIX bucket, VIX/VIX3M term structure, SPX trend vs its 200-day SMA."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

VIX_BUCKETS: tuple[tuple[float, str], ...] = (
    (12.0, "very calm"),
    (20.0, "normal"),
    (30.0, "elevated"),
    (40.0, "stress"),
)


@dataclass(frozen=True)
class Regime:
    """label: one-line summary; vix_bucket: very calm|normal|elevated|stress|panic;
    term: contango|backwardation|flat|unknown; trend: up|down|unknown."""

    label: str
    vix_bucket: str
    term: str
    trend: str


def vix_bucket(vix: float) -> str:
    """<12 very calm, 12-20 normal, 20-30 elevated, 30-40 stress, >=40 panic."""
    for upper, name in VIX_BUCKETS:
        if vix < upper:
            return name
    return "panic"


def term_structure(vix: float, vix3m: float | None, flat_band: float = 0.0) -> str:
    """VIX/VIX3M < 1 contango (normal), > 1 backwardation (acute stress)."""
    if vix3m is None or vix3m <= 0:
        return "unknown"
    ratio = vix / vix3m
    if ratio > 1.0 + flat_band:
        return "backwardation"
    if ratio < 1.0 - flat_band:
        return "contango"
    return "flat"


def trend(close: float | None, sma200: float | None) -> str:
    """Above its ~200-day SMA: up; below: down."""
    if close is None or sma200 is None:
        return "unknown"
    return "up" if close >= sma200 else "down"


def sma(values: Sequence[float], n: int) -> float | None:
    """Simple moving average of the last n values; None with fewer than n values."""
    if n <= 0:
        raise ValueError("n must be positive")
    if len(values) < n:
        return None
    return sum(values[-n:]) / n


def classify(
    vix: float, vix3m: float | None, spx_close: float | None, spx_sma200: float | None
) -> Regime:
    """Pure regime classification."""
    bucket = vix_bucket(vix)
    term = term_structure(vix, vix3m)
    tr = trend(spx_close, spx_sma200)
    parts = [f"VIX {vix:.1f} {bucket}"]
    if term != "unknown":
        parts.append(term)
    if tr != "unknown":
        parts.append(f"trend {tr}")
    return Regime(label=", ".join(parts), vix_bucket=bucket, term=term, trend=tr)
