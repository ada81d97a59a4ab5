"""Strike and expiry filters: pure functions that return a decision and its Reason.

Every rejected strike or symbol carries a `Reason` whose code is one of the `R_*` constants
below (docs/selection.md lists them), so the console can say why a symbol has no candidate.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from config.models import SelectionConfig
from engine.domain import OptionRef, Quote, Reason
from engine.market.blackscholes import bs_greeks

ET = ZoneInfo("America/New_York")

# symbol-level reasons
R_QUALIFY_FAILED = "qualify_failed"
R_NO_UNDERLYING_PRICE = "no_underlying_price"
R_NOT_LIVE = "not_live_data"
R_NO_CHAIN = "no_option_chain"
R_NO_EXPIRY = "no_expiry_in_window"
R_NO_STRIKES = "no_strikes_listed"
R_QUOTES_FAILED = "quotes_failed"
R_NO_STRIKE_PASSED = "no_strike_passed"
# strike-level reasons
R_OTM = "otm_below_min"
R_DELTA_EST = "delta_estimate_out_of_range"
R_NOT_NEAREST = "prefilter_not_nearest"
R_NO_QUOTE = "no_quote"
R_NO_BID = "no_bid"
R_NO_ASK = "no_ask"
R_GREEKS = "greeks_missing"
R_DELTA = "delta_out_of_range"
R_PREMIUM = "premium_below_min"
R_SPREAD = "spread_too_wide"
R_VOLUME = "volume_below_min"
R_OI = "oi_below_min"
R_NOT_FINALIST = "not_finalist"
R_MARGIN = "margin_unavailable"
R_OUTSCORED = "outscored"

#: A later expiry is not requested when a strike at min OTM % has an estimated |delta| (at a
#: shorter expiry's probe IV) under EST_LOW_FACTOR x delta_min.
EST_LOW_FACTOR = 0.5
#: Estimated-delta band of the pre-filter, as factors of [delta_min, delta_max]. Below the
#: probe the estimate takes the probe's IV plus the skew allowance (an OTM put's |delta| grows
#: with IV). Against the simulator's chains it lay within 10 % of the quoted |delta|, above or
#: below, so a strike estimated under PREFILTER_LOW_FACTOR x delta_min is left unquoted.
PREFILTER_LOW_FACTOR = 0.9
EST_HIGH_FACTOR = 1.5
#: Relative IV added per unit of log-moneyness below the strike where IV was measured.
SKEW_ALLOWANCE = 2.0


def et_date(now: dt.datetime) -> dt.date:
    """The exchange (America/New_York) calendar date of a UTC instant."""
    return now.astimezone(ET).date()


def parse_expiry(expiry: str) -> dt.date:
    return dt.datetime.strptime(expiry[:8], "%Y%m%d").date()


def dte(expiry: str, today: dt.date) -> int:
    """Calendar days from `today` (ET) to the expiry date."""
    return (parse_expiry(expiry) - today).days


def years_to_expiry(expiry: str, now: dt.datetime) -> float:
    """Year fraction from `now` to 16:00 ET on the expiry date (at least one hour)."""
    close = dt.datetime.combine(parse_expiry(expiry), dt.time(16, 0), tzinfo=ET)
    seconds = (close - now).total_seconds()
    return max(seconds, 3600.0) / (365.0 * 86400.0)


def otm_pct(underlying: float, strike: float) -> float:
    """How far a put strike sits below the underlying, in % of the underlying."""
    return (underlying - strike) / underlying * 100.0


def expiries_in_order(
    expirations: Iterable[str], today: dt.date, cfg: SelectionConfig
) -> tuple[list[str], Reason | None]:
    """Expiries inside [dte_min, dte_max], in preference order (shortest first, or closest to
    dte_target); an empty list comes with the reason."""
    inside = [e for e in expirations if cfg.dte_min <= dte(e, today) <= cfg.dte_max]
    if cfg.dte_preference == "shortest":
        inside.sort(key=lambda e: dte(e, today))
    else:
        inside.sort(key=lambda e: (abs(dte(e, today) - cfg.dte_target), dte(e, today)))
    if inside:
        return inside, None
    future = sorted((dte(e, today), e) for e in expirations if dte(e, today) >= 0)
    nearest = ", ".join(f"{e} ({d}d)" for d, e in future[:3]) or "none listed"
    return [], Reason(
        R_NO_EXPIRY,
        f"no expiry with DTE in [{cfg.dte_min}, {cfg.dte_max}]; nearest: {nearest}",
    )


@dataclass(frozen=True)
class PrefilterResult:
    """Strikes worth quoting, and a reason for every strike that is not."""

    kept: list[OptionRef]
    estimated_delta: dict[int, float]
    rejected: list[tuple[OptionRef, Reason]]


def skewed_vol(iv_anchor: float, anchor_strike: float, strike: float) -> float:
    """IV at `strike` from the IV measured at `anchor_strike`, with a put-skew allowance:
    farther OTM strikes get proportionally more vol (SKEW_ALLOWANCE per unit log-moneyness)."""
    return iv_anchor * (1.0 + SKEW_ALLOWANCE * max(0.0, math.log(anchor_strike / strike)))


def prefilter(
    options: Sequence[OptionRef],
    underlying: float,
    years: float,
    iv_guess: float,
    cfg: SelectionConfig,
    max_quotes: int,
    rate: float = 0.04,
    anchor_strike: float | None = None,
) -> PrefilterResult:
    """Keep at most `max_quotes` strikes that are OTM enough and whose Black-Scholes |delta|
    (IV from `iv_guess` measured at `anchor_strike`, skew allowance below it) lies in the
    widened band, nearest the target first."""
    lo = cfg.delta_min * PREFILTER_LOW_FACTOR
    hi = min(0.5, cfg.delta_max * EST_HIGH_FACTOR)
    anchor = anchor_strike or underlying
    rejected: list[tuple[OptionRef, Reason]] = []
    in_band: list[tuple[float, OptionRef]] = []
    est: dict[int, float] = {}
    for opt in options:
        otm = otm_pct(underlying, opt.strike)
        if otm < cfg.min_otm_pct:
            rejected.append(
                (
                    opt,
                    Reason(
                        R_OTM,
                        f"strike {opt.strike:g} is {otm:.2f}% OTM < "
                        f"{cfg.min_otm_pct:g}% (underlying {underlying:g})",
                    ),
                )
            )
            continue
        sigma = skewed_vol(iv_guess, anchor, opt.strike)
        d = abs(bs_greeks(underlying, opt.strike, years, rate, 0.0, sigma, "P").delta)
        est[opt.con_id] = d
        if not lo <= d <= hi:
            rejected.append(
                (
                    opt,
                    Reason(
                        R_DELTA_EST,
                        f"estimated |delta| {d:.4f} outside [{lo:.4f}, {hi:.4f}] "
                        f"(IV estimate {sigma:.3f})",
                    ),
                )
            )
            continue
        in_band.append((abs(math.log(max(d, 1e-9) / cfg.delta_target)), opt))
    in_band.sort(key=lambda t: (t[0], -t[1].strike))
    kept = [o for _, o in in_band[:max_quotes]]
    for _, opt in in_band[max_quotes:]:
        rejected.append(
            (
                opt,
                Reason(
                    R_NOT_NEAREST,
                    f"estimated |delta| {est[opt.con_id]:.4f}: {max_quotes} strikes nearer "
                    f"the target {cfg.delta_target:g} quoted",
                ),
            )
        )
    kept.sort(key=lambda o: o.strike)
    return PrefilterResult(kept, est, rejected)


def spread_pct(quote: Quote) -> float | None:
    """Bid/ask spread as % of mid; None without a two-sided quote."""
    mid = quote.mid
    if mid is None or quote.bid is None or quote.ask is None:
        return None
    return (quote.ask - quote.bid) / mid * 100.0


def check_strike(
    option: OptionRef,
    quote: Quote | None,
    underlying: float,
    cfg: SelectionConfig,
    *,
    allow_stale: bool = False,
    liquidity: bool = True,
) -> Reason | None:
    """None when the strike passes every filter, else the first failing filter's Reason.
    With `liquidity=False` the volume and open-interest filters (the last two) are left out:
    for a snapshot quote, which carries no open interest."""
    if quote is None:
        return Reason(R_NO_QUOTE, f"no quote received for strike {option.strike:g}")
    if not quote.is_live and not allow_stale:
        return Reason(R_NOT_LIVE, f"option data is {quote.market_data_type.label}, not live")
    if quote.bid is None or quote.bid <= 0:
        return Reason(R_NO_BID, f"no bid for strike {option.strike:g}")
    if quote.delta is None or quote.iv is None:
        missing = [n for n in ("delta", "iv") if getattr(quote, n) is None]
        return Reason(R_GREEKS, f"{'/'.join(missing)} missing for strike {option.strike:g}")
    ad = abs(quote.delta)
    if not cfg.delta_min <= ad <= cfg.delta_max:
        return Reason(R_DELTA, f"|delta| {ad:.4f} outside [{cfg.delta_min:g}, {cfg.delta_max:g}]")
    otm = otm_pct(underlying, option.strike)
    if otm < cfg.min_otm_pct:
        return Reason(R_OTM, f"{otm:.2f}% OTM < {cfg.min_otm_pct:g}%")
    if Decimal(str(quote.bid)) < cfg.min_premium:
        return Reason(R_PREMIUM, f"bid {quote.bid:g} < minimum premium {cfg.min_premium}")
    if quote.ask is None or quote.ask <= 0:
        return Reason(R_NO_ASK, f"no ask for strike {option.strike:g}")
    sp = spread_pct(quote)
    if sp is None or sp > cfg.max_spread_pct:
        shown = "n/a" if sp is None else f"{sp:.1f}%"
        return Reason(R_SPREAD, f"spread {shown} of mid > {cfg.max_spread_pct:g}%")
    if not liquidity:
        return None
    if cfg.min_volume > 0 and (quote.volume or 0) < cfg.min_volume:
        return Reason(R_VOLUME, f"volume {quote.volume or 0:g} < {cfg.min_volume}")
    if cfg.min_open_interest > 0 and (quote.open_interest or 0) < cfg.min_open_interest:
        return Reason(R_OI, f"open interest {quote.open_interest or 0:g} < {cfg.min_open_interest}")
    return None


def summarise_rejections(reasons: Iterable[Reason]) -> Reason:
    """One symbol-level reason from its strikes' reasons (most frequent codes first)."""
    counts = Counter(r.code for r in reasons)
    if not counts:
        return Reason(R_NO_STRIKE_PASSED, "no strike passed the filters")
    parts = ", ".join(f"{n} {code}" for code, n in counts.most_common())
    return Reason(R_NO_STRIKE_PASSED, f"no strike passed the filters ({parts})")
