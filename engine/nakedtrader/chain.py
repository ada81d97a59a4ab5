"""Index chain retrieval for NakedTrader through the engine's MarketData service.

The expiry is chosen by DTE on the NYSE calendar (`pick_expiry`, pure); the trading class by
the instrument's listed classes in order (SPX: SPXW then SPX; XSP: XSP then XSPW; SPY: SPY).
Only strikes IBKR lists for that expiry are used (`expiry_strikes`, never the union of
`reqSecDefOptParams`); quotes and greeks are asked for the out-of-the-money puts nearest the
money only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from config.nakedtrader import TRADING_CLASSES, NakedTraderConfig
from engine.domain import MarketData, OptionChainInfo, OptionRef, Quote, Reason, Underlying

#: Puts further out of the money than this fraction of the underlying are never quoted.
MAX_OTM_FRACTION = 0.15
#: At most this many strikes (the ones nearest the money) are considered.
MAX_QUOTED_STRIKES = 60
#: Above this many, a sample is quoted first and only the strikes around the band follow.
SAMPLE_ABOVE = 16
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class IndexChain:
    """One expiry's listed puts with live quotes, ready for the selector."""

    underlying: Underlying
    underlying_price: float
    trading_class: str
    expiry: str  # YYYYMMDD
    dte: int  # sessions from today to the expiry
    options: tuple[OptionRef, ...]
    quotes: dict[int, Quote]


def trading_classes(cfg: NakedTraderConfig) -> tuple[str, ...]:
    """The classes to try, in order: the configured one alone, else the instrument's list."""
    if cfg.trading_class:
        return (cfg.trading_class,)
    return TRADING_CLASSES[cfg.instrument]


def session_dte(today: dt.date, expiry: dt.date, calendar: Any) -> int:
    """Sessions after `today` up to and including `expiry` (0 = expires today)."""
    if expiry <= today:
        return 0
    return len([d for d in calendar.sessions_between(today, expiry) if d > today])


def pick_expiry(
    expirations: Iterable[str], today: dt.date, dte: int, calendar: Any
) -> tuple[str | None, Reason]:
    """The first listed expiry at least `dte` sessions after `today` (0 = today)."""
    target = today
    if not calendar.is_session(today):
        target = calendar.next_session(today)
    for _ in range(dte):
        target = calendar.next_session(target)
    listed = sorted(e for e in expirations if len(e) >= 8)
    for e in listed:
        d = dt.datetime.strptime(e[:8], "%Y%m%d").date()
        if d >= target:
            return e[:8], Reason(
                "nt.expiry", f"expiry {e[:8]} ({session_dte(today, d, calendar)} DTE, asked {dte})"
            )
    return None, Reason(
        "nt.no_expiry", f"no listed expiry on or after {target.isoformat()} ({dte} DTE)"
    )


def choose_class(
    chains: list[OptionChainInfo], cfg: NakedTraderConfig, today: dt.date, calendar: Any
) -> tuple[tuple[OptionChainInfo, str] | None, Reason]:
    """The first trading class (in the instrument's order) listing an expiry for the DTE.

    Among the classes, the one with the nearest qualifying expiry wins; ties go to the
    earlier class (SPXW before SPX)."""
    by_class = {c.trading_class: c for c in chains}
    best: tuple[OptionChainInfo, str] | None = None
    reasons: list[str] = []
    for tc in trading_classes(cfg):
        chain = by_class.get(tc)
        if chain is None:
            reasons.append(f"{tc} not listed")
            continue
        expiry, why = pick_expiry(chain.expirations, today, cfg.dte, calendar)
        if expiry is None:
            reasons.append(f"{tc}: {why.text}")
            continue
        if best is None or expiry < best[1]:
            best = (chain, expiry)
    if best is None:
        listed = ", ".join(sorted(by_class)) or "none"
        return None, Reason(
            "nt.no_chain",
            f"no {cfg.instrument} class lists a {cfg.dte} DTE expiry ("
            + "; ".join(reasons)
            + f"; listed classes: {listed})",
        )
    return best, Reason("nt.chain", f"{best[0].trading_class} {best[1]}")


def strikes_to_quote(
    options: Iterable[OptionRef], underlying_price: float, limit: int = MAX_QUOTED_STRIKES
) -> list[OptionRef]:
    """Out-of-the-money puts within MAX_OTM_FRACTION, nearest the money first (pure)."""
    floor = underlying_price * (1 - MAX_OTM_FRACTION)
    otm = [o for o in options if o.right == "P" and floor <= o.strike < underlying_price]
    otm.sort(key=lambda o: -o.strike)
    return sorted(otm[:limit], key=lambda o: o.strike)


def sample_of(options: list[OptionRef], size: int = SAMPLE_SIZE) -> list[OptionRef]:
    """Evenly spread strikes (both ends included) from an ascending list."""
    if len(options) <= size:
        return list(options)
    step = (len(options) - 1) / (size - 1)
    idx = sorted({round(i * step) for i in range(size)})
    return [options[i] for i in idx]


def band_window(
    options: list[OptionRef], quotes: dict[int, Quote], lo: float, hi: float
) -> list[OptionRef]:
    """The strikes (ascending) that can hold a put with |delta| in [lo, hi], judged from the
    quoted sample: put |delta| rises with the strike, so the window runs from the highest
    sampled strike below `lo` to the lowest sampled strike above `hi` (pure)."""
    start, end = 0, len(options) - 1
    for i, o in enumerate(options):
        q = quotes.get(o.con_id)
        if q is None or q.delta is None:
            continue
        d = abs(q.delta)
        if d < lo:
            start = i
        elif d > hi:
            end = i
            break
    return options[start : end + 1]


def underlying_price_of(quote: Quote) -> float | None:
    """Last, else mid, else the model's underlying price."""
    for v in (quote.last, quote.mid, quote.underlying_price):
        if v is not None and v > 0:
            return float(v)
    return None


async def fetch_chain(
    md: MarketData, cfg: NakedTraderConfig, today: dt.date, calendar: Any
) -> tuple[IndexChain | None, Reason]:
    """Qualify the instrument, pick class and expiry, list that expiry's puts, quote them."""
    und = await md.qualify_underlying(cfg.instrument)
    und_quote = await md.underlying_quote(und)
    price = underlying_price_of(und_quote)
    if price is None:
        return None, Reason("nt.no_underlying_price", f"IBKR sent no price for {und.symbol}")
    chains = await md.option_chain(und)
    chosen, why = choose_class(chains, cfg, today, calendar)
    if chosen is None:
        return None, why
    chain, expiry = chosen
    listed = await md.expiry_strikes(und, expiry, chain.trading_class, "P")
    wanted = strikes_to_quote(listed, price)
    if not wanted:
        return None, Reason(
            "nt.no_strikes",
            f"no listed {chain.trading_class} {expiry} put within "
            f"{MAX_OTM_FRACTION:.0%} below {price:g}",
        )
    if len(wanted) > SAMPLE_ABOVE:
        sample = sample_of(wanted)
        quotes = await md.option_quotes(sample)
        lo = max(0.0, cfg.delta_min - cfg.widen_limit * cfg.widen_step)
        hi = cfg.delta_max + cfg.widen_limit * cfg.widen_step
        window = band_window(wanted, quotes, lo, hi)
        rest = [o for o in window if o.con_id not in quotes]
        if rest:
            quotes.update(await md.option_quotes(rest))
        wanted = [o for o in wanted if o.con_id in quotes]
    else:
        quotes = await md.option_quotes(wanted)
    exp_date = dt.datetime.strptime(expiry, "%Y%m%d").date()
    return IndexChain(
        underlying=und,
        underlying_price=price,
        trading_class=chain.trading_class,
        expiry=expiry,
        dte=session_dte(today, exp_date, calendar),
        options=tuple(wanted),
        quotes=quotes,
    ), Reason(
        "nt.chain",
        f"{und.symbol} {price:g}: {chain.trading_class} {expiry}, "
        f"{len(wanted)} of {len(listed)} listed puts quoted",
    )
