"""Pure delta-based strike selection for NakedTrader.

`select_strike` looks for the put whose |delta| is nearest `delta_target` inside
[delta_min, delta_max] that can be sold at or above `min_premium` (limit price from the live
quote per `limit_price`). When none qualifies the band is widened by `widen_step` on both
sides (never below zero), up to `widen_limit` times. The answer is the selection or None, with
a Reason, plus the reason each strike was passed over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from config.nakedtrader import NakedTraderConfig
from engine.domain import OptionRef, Quote, Reason
from engine.execution import pricing
from engine.text import price as px

MIN_BAND_FLOOR = 0.001


@dataclass(frozen=True)
class Selection:
    """The chosen put and the price it would be sold at."""

    option: OptionRef
    quote: Quote
    delta: float  # |delta|
    limit_price: Decimal
    band: tuple[float, float]
    widen_steps: int

    def as_dict(self) -> dict[str, object]:
        return {
            "symbol": self.option.symbol,
            "trading_class": self.option.trading_class,
            "expiry": self.option.expiry,
            "strike": self.option.strike,
            "right": self.option.right,
            "con_id": self.option.con_id,
            "delta": round(self.delta, 4),
            "bid": self.quote.bid,
            "ask": self.quote.ask,
            "iv": self.quote.iv,
            "limit_price": format(self.limit_price, "f"),
            "band": [round(self.band[0], 4), round(self.band[1], 4)],
            "widen_steps": self.widen_steps,
        }


@dataclass(frozen=True)
class SelectionOutcome:
    selection: Selection | None
    reason: Reason
    rejected: list[tuple[float, Reason]] = field(default_factory=list)


def band_for(cfg: NakedTraderConfig, step: int) -> tuple[float, float]:
    """The |delta| band after `step` widenings."""
    lo = max(MIN_BAND_FLOOR, cfg.delta_min - step * cfg.widen_step)
    hi = min(0.5, cfg.delta_max + step * cfg.widen_step)
    return round(lo, 6), round(hi, 6)


def limit_for(
    quote: Quote, cfg: NakedTraderConfig, symbol: str, now: dt.datetime
) -> tuple[Decimal | None, Reason]:
    """The sell limit from a live quote per `cfg.limit_price`, on the tick grid."""
    if cfg.limit_price == "bid":
        problem = pricing.quote_problem(quote, now)
        if problem is not None:
            return None, problem
        assert quote.bid is not None
        bid = Decimal(str(quote.bid))
        price = pricing.round_to_tick(bid, symbol, "down")
        floor = pricing.floor_price(cfg.min_premium, symbol)
        if price < floor:
            return None, Reason(
                "price.below_min_premium",
                f"bid {px(bid)} is below the minimum premium {px(Decimal(str(cfg.min_premium)))}",
            )
        return price, Reason("price.bid", f"at the bid {px(bid)} -> limit {px(price)}")
    return pricing.tier1_price(
        quote, symbol=symbol, mode=cfg.limit_price, min_premium=cfg.min_premium, now=now
    )


def select_strike(
    options: Sequence[OptionRef],
    quotes: Mapping[int, Quote],
    cfg: NakedTraderConfig,
    *,
    symbol: str,
    now: dt.datetime,
) -> SelectionOutcome:
    """The put nearest the delta target, widening the band when nothing qualifies."""
    priced: list[tuple[OptionRef, Quote, float, Decimal]] = []
    rejected: list[tuple[float, Reason]] = []
    for opt in options:
        q = quotes.get(opt.con_id)
        if opt.right != "P":
            continue
        if q is None or q.delta is None:
            rejected.append((opt.strike, Reason("nt.no_delta", "no delta from IBKR")))
            continue
        price, why = limit_for(q, cfg, symbol, now)
        if price is None:
            rejected.append((opt.strike, why))
            continue
        priced.append((opt, q, abs(q.delta), price))
    if not priced:
        return SelectionOutcome(
            None,
            Reason(
                "nt.no_priced_strike",
                f"none of {len(options)} strikes has a delta and a price at or above "
                f"{cfg.min_premium}",
            ),
            rejected,
        )
    for step in range(cfg.widen_limit + 1):
        lo, hi = band_for(cfg, step)
        inside = [p for p in priced if lo <= p[2] <= hi]
        if not inside:
            continue
        opt, q, delta, price = min(
            inside, key=lambda p: (abs(p[2] - cfg.delta_target), p[0].strike)
        )
        widened = f" after {step} widening(s)" if step else ""
        return SelectionOutcome(
            Selection(opt, q, delta, price, (lo, hi), step),
            Reason(
                "nt.selected" if step == 0 else "nt.selected_widened",
                f"{opt.trading_class} {opt.expiry} {opt.strike:g}P |delta| {delta:.4f} in "
                f"[{lo:.3f}, {hi:.3f}]{widened}, limit {price}",
            ),
            rejected,
        )
    lo, hi = band_for(cfg, cfg.widen_limit)
    nearest = min(priced, key=lambda p: abs(p[2] - cfg.delta_target))
    for p in priced:
        rejected.append((p[0].strike, Reason("nt.outside_band", f"|delta| {p[2]:.4f}")))
    return SelectionOutcome(
        None,
        Reason(
            "nt.no_strike_in_band",
            f"no priced put with |delta| in [{lo:.3f}, {hi:.3f}] after {cfg.widen_limit} "
            f"widening(s) of {cfg.widen_step:g} (nearest: {nearest[0].strike:g}P at "
            f"{nearest[2]:.4f})",
        ),
        rejected,
    )
