"""Limit prices for selling puts: the tick grid, the tier 1 price and the one tier 2 reprice.

Pure functions. Every price returned is a positive Decimal on the contract's tick grid, never
below the minimum premium (rounded up onto the grid) and never below the bid (a seller never
crosses the natural price). A decision that cannot honour those rules returns `None` and a
Reason instead of a price.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from engine.domain import Quote, Reason
from engine.text import price as px

INDEX_SYMBOLS = frozenset({"SPX", "SPXW", "NDX", "NDXP", "RUT", "RUTW", "VIX"})  # XSP: stock grid
THREE = Decimal("3")
Rounding = Literal["up", "down", "nearest"]
Tier1Mode = Literal["mid", "mid_minus_tick", "ask_minus_tick"]

DEFAULT_MAX_QUOTE_AGE_S = 15.0


def is_index(symbol: str) -> bool:
    """True for index options (SPX family), which trade on the 0.05 / 0.10 grid."""
    return symbol.upper() in INDEX_SYMBOLS


def tick_for(price: Decimal, symbol: str) -> Decimal:
    """The tick at `price`: stocks 0.01 below $3 else 0.05; index 0.05 below $3 else 0.10."""
    below = price < THREE
    if is_index(symbol):
        return Decimal("0.05") if below else Decimal("0.10")
    return Decimal("0.01") if below else Decimal("0.05")


def _snap(price: Decimal, tick: Decimal, how: Rounding) -> Decimal:
    mode = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}[how]
    return ((price / tick).to_integral_value(rounding=mode) * tick).quantize(Decimal("0.01"))


def round_to_tick(price: Decimal, symbol: str, how: Rounding = "nearest") -> Decimal:
    """Snap `price` onto the grid. The tick is chosen for the side of $3 the result lands on."""
    if price <= 0:
        raise ValueError(f"a limit price must be positive, got {price}")
    small = tick_for(Decimal("0"), symbol)
    large = tick_for(THREE, symbol)
    if price < THREE:
        p = _snap(price, small, how)
        if p >= THREE:  # rounding carried it across $3: 3.00 is on both grids
            return THREE.quantize(Decimal("0.01"))
        return p if p > 0 else small
    p = _snap(price, large, how)
    if p < THREE:  # rounded down under $3: the largest price under 3 on the small grid
        return _snap(price, small, "down") if how == "down" else THREE.quantize(Decimal("0.01"))
    return p


def on_grid(price: Decimal, symbol: str) -> bool:
    return price > 0 and price % tick_for(price, symbol) == 0


def floor_price(min_premium: Decimal, symbol: str) -> Decimal:
    """The lowest price allowed: the minimum premium rounded up onto the grid (at least a tick)."""
    base = min_premium if min_premium > 0 else tick_for(Decimal("0"), symbol)
    return round_to_tick(base, symbol, "up")


def quote_problem(
    quote: Quote | None, now: dt.datetime, max_age_s: float = DEFAULT_MAX_QUOTE_AGE_S
) -> Reason | None:
    """Why a quote cannot be used to price a live order, or None when it can."""
    if quote is None:
        return Reason("quote.missing", "no quote received from IBKR")
    if not quote.is_live:
        return Reason(
            "quote.not_live", f"quote is {quote.market_data_type.label}, live data required"
        )
    age = (now - quote.time).total_seconds()
    if age > max_age_s:
        return Reason("quote.stale", f"quote is {age:.0f}s old (limit {max_age_s:.0f}s)")
    if quote.bid is None or quote.ask is None or quote.bid <= 0 or quote.ask <= 0:
        return Reason("quote.one_sided", f"no two-sided market (bid {quote.bid}, ask {quote.ask})")
    if quote.ask < quote.bid:
        return Reason(
            "quote.crossed", f"crossed market (bid {quote.bid:.2f} > ask {quote.ask:.2f})"
        )
    return None


def tier1_price(
    quote: Quote,
    *,
    symbol: str,
    mode: Tier1Mode,
    min_premium: Decimal,
    now: dt.datetime,
    max_age_s: float = DEFAULT_MAX_QUOTE_AGE_S,
) -> tuple[Decimal | None, Reason]:
    """The opening limit price from a live quote, or None with the reason it cannot be sent."""
    problem = quote_problem(quote, now, max_age_s)
    if problem is not None:
        return None, problem
    assert quote.bid is not None and quote.ask is not None
    bid = Decimal(str(quote.bid))
    ask = Decimal(str(quote.ask))
    mid = (bid + ask) / 2
    if mode == "mid":
        raw = round_to_tick(mid, symbol, "up")
    elif mode == "mid_minus_tick":
        up = round_to_tick(mid, symbol, "up")
        raw = up - tick_for(up - Decimal("0.001"), symbol) if up > tick_for(up, symbol) else up
    else:
        a = round_to_tick(ask, symbol, "down")
        raw = a - tick_for(a - Decimal("0.001"), symbol) if a > tick_for(a, symbol) else a
    raw = round_to_tick(raw, symbol, "nearest")
    natural = round_to_tick(bid, symbol, "up")
    floor = floor_price(min_premium, symbol)
    price = max(raw, natural)
    if price < floor:
        if round_to_tick(ask, symbol, "down") < floor:
            return None, Reason(
                "price.below_min_premium",
                f"ask {px(ask)} is below the minimum premium {px(min_premium)}",
            )
        price = floor
    return price, Reason(
        "price.tier1", f"tier 1 {mode}: bid {px(bid)} ask {px(ask)} -> limit {px(price)}"
    )


def tier2_price(
    current_limit: Decimal,
    quote: Quote,
    *,
    symbol: str,
    step: float,
    min_premium: Decimal,
    now: dt.datetime,
    max_age_s: float = DEFAULT_MAX_QUOTE_AGE_S,
) -> tuple[Decimal | None, Reason]:
    """One reprice toward the live bid by `step` of the distance; None when no better price
    exists inside the rules (the order is then left or cancelled by the caller)."""
    problem = quote_problem(quote, now, max_age_s)
    if problem is not None:
        return None, problem
    assert quote.bid is not None
    bid = Decimal(str(quote.bid))
    floor = floor_price(min_premium, symbol)
    natural = round_to_tick(bid, symbol, "up")
    lowest = max(floor, natural)
    if current_limit <= lowest:
        return None, Reason(
            "price.tier2_no_room",
            f"limit {px(current_limit)} already at the floor (bid {px(bid)}, min premium "
            f"{px(min_premium)})",
        )
    target = current_limit - (current_limit - bid) * Decimal(str(step))
    price = max(round_to_tick(max(target, Decimal("0.01")), symbol, "up"), lowest)
    if price >= current_limit:
        price = round_to_tick(
            current_limit - tick_for(current_limit - Decimal("0.001"), symbol), symbol, "down"
        )
        price = max(price, lowest)
        if price >= current_limit:
            return None, Reason(
                "price.tier2_no_room",
                f"no tick between {px(lowest)} and limit {px(current_limit)}",
            )
    return price, Reason(
        "price.tier2",
        f"tier 2: limit {px(current_limit)} -> {px(price)} toward bid {px(bid)} (step {step:g})",
    )
