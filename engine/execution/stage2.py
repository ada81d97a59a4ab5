"""Stage 2 validation (09:28 ET) with adaptive strike selection. Pure.

For one approved lineup entry and the live chain of its expiry:
- fast path: the staged strike still meets the minimum OTM % and the minimum premium;
- adapt: otherwise pick the strike whose OTM % is closest to the staged OTM % (never below the
  minimum), within `max_strikes_moved` listed strikes of the staged one, with enough premium
  and liquidity, and swap to it;
- cancel: only when no strike within those guards works; the reason says which guard failed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from engine.domain import OptionRef, Quote, Reason
from engine.execution.pricing import DEFAULT_MAX_QUOTE_AGE_S, quote_problem

Action = Literal["keep", "swap", "cancel"]


@dataclass(frozen=True)
class StagedTrade:
    """What the lineup holds for one approved entry."""

    lineup_id: int
    symbol: str
    expiry: str
    strike: Decimal
    otm_pct: float
    premium: Decimal
    quantity: int
    right: str = "P"
    stale: bool = False


@dataclass(frozen=True)
class Stage2Guards:
    min_otm_pct: float
    min_premium: Decimal
    max_strikes_moved: int = 3
    min_open_interest: int = 10
    max_spread_pct: float = 25.0
    max_quote_age_s: float = DEFAULT_MAX_QUOTE_AGE_S


@dataclass(frozen=True)
class Stage2Decision:
    action: Action
    lineup_id: int
    option: OptionRef | None = None
    quote: Quote | None = None
    otm_pct: float | None = None
    strikes_moved: int = 0


def otm_pct(underlying: float, strike: float) -> float:
    """How far a put strike sits below the underlying, in % of the underlying."""
    return (underlying - strike) / underlying * 100.0


def liquidity_problem(quote: Quote, guards: Stage2Guards) -> Reason | None:
    """Open interest and spread of a candidate strike (the quote is already known two-sided)."""
    oi = quote.open_interest
    if oi is not None and oi < guards.min_open_interest:
        return Reason("stage2.illiquid", f"open interest {oi:g} < {guards.min_open_interest}")
    mid = quote.mid
    if mid is not None and quote.bid is not None and quote.ask is not None:
        spread = (quote.ask - quote.bid) / mid * 100.0
        if spread > guards.max_spread_pct:
            return Reason(
                "stage2.wide_spread", f"spread {spread:.1f}% of mid > {guards.max_spread_pct:g}%"
            )
    return None


def _check_strike(
    quote: Quote | None, und: float, strike: float, guards: Stage2Guards, now: dt.datetime
) -> Reason | None:
    otm = otm_pct(und, strike)
    if otm < guards.min_otm_pct:
        return Reason(
            "stage2.otm_too_small", f"strike {strike:g} is {otm:.2f}% OTM < {guards.min_otm_pct:g}%"
        )
    problem = quote_problem(quote, now, guards.max_quote_age_s)
    if problem is not None:
        return problem
    assert quote is not None and quote.bid is not None
    if Decimal(str(quote.bid)) < guards.min_premium:
        return Reason(
            "stage2.premium_too_low", f"bid {quote.bid:g} < minimum premium {guards.min_premium}"
        )
    return liquidity_problem(quote, guards)


def validate(
    staged: StagedTrade,
    underlying: Quote,
    chain: list[tuple[OptionRef, Quote | None]],
    guards: Stage2Guards,
    now: dt.datetime,
) -> tuple[Stage2Decision, Reason]:
    """Decide keep / swap / cancel for one staged trade from live data."""
    cancel = Stage2Decision("cancel", staged.lineup_id)
    if staged.stale:
        return cancel, Reason("stage2.stale_entry", "entry was selected on stale data")
    if not underlying.is_live:
        return cancel, Reason(
            "data.not_live", f"underlying quote is {underlying.market_data_type.label}"
        )
    if (now - underlying.time).total_seconds() > guards.max_quote_age_s:
        return cancel, Reason("data.stale", "underlying quote is too old")
    und = underlying.last if underlying.last and underlying.last > 0 else underlying.mid
    if und is None or und <= 0:
        return cancel, Reason("data.no_underlying_price", "no live underlying price")
    options = sorted(
        ((o, q) for o, q in chain if o.expiry == staged.expiry and o.right == staged.right),
        key=lambda oq: oq[0].strike,
    )
    if not options:
        return cancel, Reason("stage2.no_chain", f"no {staged.expiry} strikes received")
    strikes = [o.strike for o, _ in options]
    staged_f = float(staged.strike)
    if staged_f in strikes:
        idx0 = strikes.index(staged_f)
        opt, q = options[idx0]
        problem = _check_strike(q, und, opt.strike, guards, now)
        if problem is None:
            return (
                Stage2Decision("keep", staged.lineup_id, opt, q, otm_pct(und, opt.strike)),
                Reason(
                    "stage2.fast_path",
                    f"strike {opt.strike:g} still "
                    f"{otm_pct(und, opt.strike):.2f}% OTM, bid {q.bid if q else None}",
                ),
            )
    else:
        idx0 = min(range(len(strikes)), key=lambda i: abs(strikes[i] - staged_f))
    target_otm = max(staged.otm_pct, guards.min_otm_pct)
    lo = max(0, idx0 - guards.max_strikes_moved)
    hi = min(len(options) - 1, idx0 + guards.max_strikes_moved)
    window = [(i, options[i]) for i in range(lo, hi + 1) if i != idx0 or staged_f not in strikes]
    qualifying = [(i, oq) for i, oq in window if otm_pct(und, oq[0].strike) >= guards.min_otm_pct]
    if not qualifying:
        needed = und * (1 - guards.min_otm_pct / 100)
        return cancel, Reason(
            "stage2.gap_too_large",
            f"underlying {und:g}: a {guards.min_otm_pct:g}% OTM strike (<= {needed:.2f}) is more "
            f"than {guards.max_strikes_moved} strikes from {staged_f:g}",
        )
    qualifying.sort(
        key=lambda iq: (
            abs(otm_pct(und, iq[1][0].strike) - target_otm),
            -otm_pct(und, iq[1][0].strike),
        )
    )
    first_problem: Reason | None = None
    for i, (opt, q) in qualifying:
        problem = _check_strike(q, und, opt.strike, guards, now)
        if problem is None:
            moved = abs(i - idx0)
            otm = otm_pct(und, opt.strike)
            return (
                Stage2Decision("swap", staged.lineup_id, opt, q, otm, moved),
                Reason(
                    "stage2.adapted",
                    f"strike {staged_f:g} -> {opt.strike:g} ({moved} strikes, {otm:.2f}% OTM vs "
                    f"staged {staged.otm_pct:.2f}%, underlying {und:g}, "
                    f"bid {q.bid if q else None})",
                ),
            )
        first_problem = first_problem or problem
    assert first_problem is not None
    return cancel, Reason(
        first_problem.code,
        f"no strike within {guards.max_strikes_moved} of {staged_f:g} works: {first_problem.text}",
    )
