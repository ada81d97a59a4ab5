"""Native IBKR bracket orders for a short option: parent SELL LMT DAY (transmit=False), child
BUY LMT take-profit GTC, optional child BUY STP GTC; the last child transmits the group.

`plan_bracket` is pure and returns plain `OrderLeg`s (prices on the tick grid, orderRefs
"pd-<key>", "pd-<key>-tp", "pd-<key>-sl"); `to_ib_orders` turns them into `ib_async` orders with
parent ids once the gateway has allocated order ids. NakedTrader reuses both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from ib_async.order import Order

from engine.domain import Reason
from engine.execution.pricing import floor_price, round_to_tick, tick_for

REF_PREFIX = "pd-"
Leg = Literal["entry", "take_profit", "stop"]


@dataclass(frozen=True)
class OrderLeg:
    """One order of a bracket, as written to order_intents before it is sent."""

    order_ref: str
    leg: Leg
    action: Literal["BUY", "SELL"]
    order_type: Literal["LMT", "STP"]
    quantity: int
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: Literal["DAY", "GTC"]
    parent_ref: str | None
    transmit: bool


@dataclass(frozen=True)
class Bracket:
    entry: OrderLeg
    take_profit: OrderLeg
    stop: OrderLeg | None

    @property
    def legs(self) -> list[OrderLeg]:
        return [leg for leg in (self.entry, self.take_profit, self.stop) if leg is not None]


def order_ref(key: str, leg: Leg = "entry") -> str:
    """'pd-<key>' for the entry, '-tp' / '-sl' suffixes for the children."""
    suffix = {"entry": "", "take_profit": "-tp", "stop": "-sl"}[leg]
    return f"{REF_PREFIX}{key}{suffix}"


def is_putdesk_ref(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith(REF_PREFIX)


def entry_ref_of(ref: str) -> str:
    """The entry orderRef a child ref belongs to ('pd-L7-1-tp' -> 'pd-L7-1')."""
    for suffix in ("-tp", "-sl"):
        if ref.endswith(suffix):
            return ref[: -len(suffix)]
    return ref


def take_profit_price(premium: Decimal, take_profit_pct: float, symbol: str) -> Decimal:
    """Buy back at (1 - pct) x premium, rounded down onto the grid (at least one tick)."""
    raw = premium * (1 - Decimal(str(take_profit_pct)) / 100)
    smallest = tick_for(Decimal("0"), symbol)
    return round_to_tick(raw, symbol, "down") if raw >= smallest else smallest


def stop_price(premium: Decimal, stop_multiple: float, symbol: str) -> Decimal:
    """Stop at stop_multiple x premium, rounded up onto the grid."""
    return round_to_tick(premium * Decimal(str(stop_multiple)), symbol, "up")


def plan_bracket(
    *,
    key: str,
    symbol: str,
    quantity: int,
    limit_price: Decimal,
    take_profit_pct: float,
    stop_multiple: float | None,
    min_premium: Decimal = Decimal("0"),
    exit_basis: Decimal | None = None,
) -> tuple[Bracket | None, Reason]:
    """The three legs for selling `quantity` at `limit_price`. Exit prices are computed from
    `exit_basis` (default: the limit price, the premium the seller will at least receive)."""
    if quantity <= 0:
        return None, Reason("bracket.quantity", f"quantity must be positive, got {quantity}")
    if limit_price <= 0 or limit_price != round_to_tick(limit_price, symbol):
        return None, Reason("bracket.price", f"limit {limit_price} is not a positive grid price")
    if limit_price < floor_price(min_premium, symbol) and min_premium > 0:
        return None, Reason("bracket.below_min_premium", f"limit {limit_price} < {min_premium}")
    basis = exit_basis if exit_basis is not None else limit_price
    ref = order_ref(key)
    tp = take_profit_price(basis, take_profit_pct, symbol)
    if tp >= limit_price:
        return None, Reason(
            "bracket.take_profit", f"take-profit {tp} not below entry {limit_price}"
        )
    entry = OrderLeg(ref, "entry", "SELL", "LMT", quantity, limit_price, None, "DAY", None, False)
    take = OrderLeg(
        order_ref(key, "take_profit"),
        "take_profit",
        "BUY",
        "LMT",
        quantity,
        tp,
        None,
        "GTC",
        ref,
        stop_multiple is None,
    )
    stop = None
    if stop_multiple is not None:
        sp = stop_price(basis, stop_multiple, symbol)
        stop = OrderLeg(
            order_ref(key, "stop"), "stop", "BUY", "STP", quantity, None, sp, "GTC", ref, True
        )
    return Bracket(entry, take, stop), Reason(
        "bracket.planned",
        f"SELL {quantity} @ {limit_price}, take-profit {tp}"
        + (f", stop {stop.aux_price}" if stop else ", no stop"),
    )


def exit_pair(bracket: Bracket, quantity: int) -> list[OrderLeg]:
    """Standalone exit legs (no parent, OCA by the caller) protecting `quantity` already sold."""
    legs = [replace(bracket.take_profit, parent_ref=None, quantity=quantity, transmit=True)]
    if bracket.stop is not None:
        legs.append(replace(bracket.stop, parent_ref=None, quantity=quantity, transmit=True))
    return legs


def to_ib_order(
    leg: OrderLeg,
    *,
    order_id: int = 0,
    parent_id: int = 0,
    account: str = "",
    oca_group: str = "",
) -> Order:
    """An `ib_async` Order for one leg (OCA type 1 when an OCA group is given)."""
    o = Order(
        orderId=order_id,
        action=leg.action,
        totalQuantity=leg.quantity,
        orderType=leg.order_type,
        tif=leg.tif,
        orderRef=leg.order_ref,
        transmit=leg.transmit,
        parentId=parent_id,
        account=account,
    )
    if leg.limit_price is not None:
        o.lmtPrice = float(leg.limit_price)
    if leg.aux_price is not None:
        o.auxPrice = float(leg.aux_price)
    if oca_group:
        o.ocaGroup = oca_group
        o.ocaType = 1
    return o
