"""The market-regime guard on new puts: a pure decision on a regime reading and its reason.

Used before anything new enters the lineup (Auto-Select, Stage) and at Stage 2 before the
open, so a lineup chosen on a calm evening is not sent into a VIX spike.
"""

from __future__ import annotations

import datetime as dt

from config.models import RegimeGuardConfig
from engine.domain import Reason
from engine.market.regime import RegimeReading

R_REGIME_UNKNOWN = "regime.unknown"
R_REGIME_VIX = "regime.vix"
R_REGIME_BACKWARDATION = "regime.backwardation"
R_REGIME_DOWNTREND = "regime.downtrend"


def regime_guard(
    reading: RegimeReading | None,
    cfg: RegimeGuardConfig,
    now: dt.datetime,
    *,
    why_missing: str | None = None,
) -> Reason | None:
    """None when new puts may go ahead, else the reason they may not. Off: always None.
    On: a missing reading, or one older than twice `max_age_min`, refuses (no data, no trade);
    so does a signal a blocking rule needs but IBKR did not give; then VIX >= max_vix,
    backwardation (if blocked) and a downtrend (if blocked), in that order of severity."""
    if not cfg.enabled:
        return None
    if reading is None:
        return Reason(
            R_REGIME_UNKNOWN,
            "regime guard: no VIX/VIX3M/SPX data from IBKR"
            + (f" ({why_missing})" if why_missing else "")
            + ": nothing new is selected or sent",
        )
    age = reading.age(now)
    if age > dt.timedelta(minutes=2 * cfg.max_age_min):
        minutes = int(age.total_seconds() // 60)
        return Reason(
            R_REGIME_UNKNOWN,
            f"regime guard: the last regime reading is {minutes} min old "
            f"(limit {2 * cfg.max_age_min}): nothing new is selected or sent",
        )
    if reading.vix >= cfg.max_vix:
        return Reason(
            R_REGIME_VIX,
            f"regime guard: VIX {reading.vix:.2f} >= max_vix {cfg.max_vix:g} "
            f"({reading.regime.vix_bucket})",
        )
    if cfg.block_backwardation and reading.regime.term == "unknown":
        return Reason(
            R_REGIME_UNKNOWN, "regime guard: no VIX3M close from IBKR to check the term structure"
        )
    if cfg.block_downtrend and reading.regime.trend == "unknown":
        return Reason(
            R_REGIME_UNKNOWN,
            "regime guard: too few SPX daily closes from IBKR for the 200-day average",
        )
    if cfg.block_backwardation and reading.regime.term == "backwardation":
        assert reading.vix3m is not None
        return Reason(
            R_REGIME_BACKWARDATION,
            f"regime guard: VIX {reading.vix:.2f} above VIX3M {reading.vix3m:.2f} "
            f"(backwardation, ratio {reading.vix / reading.vix3m:.3f})",
        )
    if cfg.block_downtrend and reading.regime.trend == "down":
        assert reading.spx is not None and reading.spx_sma200 is not None
        return Reason(
            R_REGIME_DOWNTREND,
            f"regime guard: SPX {reading.spx:.2f} below its 200-day average "
            f"{reading.spx_sma200:.2f}",
        )
    return None
