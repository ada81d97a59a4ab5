"""Market regime signals: VIX bucket, VIX/VIX3M term structure, SPX trend vs its 200-day SMA."""

from __future__ import annotations

import datetime as dt
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


#: Daily closes needed for the trend signal (the ~200-day simple moving average, Faber).
SMA_DAYS = 200


@dataclass(frozen=True)
class RegimeReading:
    """The numbers behind a regime and when they were read (UTC). `spx_sma200` is None when
    fewer than SMA_DAYS closes came back (trend then "unknown")."""

    vix: float
    vix3m: float | None
    spx: float | None
    spx_sma200: float | None
    as_of: dt.datetime
    regime: Regime

    @property
    def label(self) -> str:
        return self.regime.label

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.as_of

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.regime.label,
            "vix_bucket": self.regime.vix_bucket,
            "term": self.regime.term,
            "trend": self.regime.trend,
            "vix": self.vix,
            "vix3m": self.vix3m,
            "vix_ratio": round(self.vix / self.vix3m, 4) if self.vix3m else None,
            "spx": self.spx,
            "spx_sma200": round(self.spx_sma200, 2) if self.spx_sma200 is not None else None,
            "as_of": self.as_of.isoformat(),
        }


def reading_from_closes(
    vix: Sequence[float],
    vix3m: Sequence[float],
    spx: Sequence[float],
    as_of: dt.datetime,
) -> RegimeReading | None:
    """A reading from daily closes, oldest first (the last one is the latest, today's when the
    market is open); None without a positive VIX close."""
    vix_now = next((v for v in reversed(vix) if v > 0), None)
    if vix_now is None:
        return None
    vix3m_now = next((v for v in reversed(vix3m) if v > 0), None)
    closes = [c for c in spx if c > 0]
    spx_now = closes[-1] if closes else None
    avg = sma(closes, SMA_DAYS)
    return RegimeReading(
        vix=vix_now,
        vix3m=vix3m_now,
        spx=spx_now,
        spx_sma200=avg,
        as_of=as_of,
        regime=classify(vix_now, vix3m_now, spx_now, avg),
    )
