"""Tax lots, wash sales and Form 8949 rows (IRS Pub. 550). Pure: `TaxLot`s in, rows out.

Rules (docs/records.md, "Tax report"):
- A short option bought back or expired: short-term, whatever the holding period; proceeds
  are the premium received (less the opening commission), cost what closing it cost.
- A short put assigned is not a disposition: its premium lowers the basis of the stock
  delivered (the stock leg's `basis_adjustment`), whose holding period starts on the
  assignment date. A short call assigned adds its premium to the stock's proceeds.
- Stock: long-term when sold more than one year after it was acquired.
- Wash sale: a loss is disallowed, in the proportion of the quantity replaced, when
  substantially identical positions are acquired within 30 days before or after the sale
  (the same stock, bought or delivered by a put assignment; the same option contract opened
  again on the same side; with the `underlying` policy, any option on the same underlying as
  well). The disallowed loss is added to the replacement's basis, whose holding period then
  includes the original's; each replacement unit absorbs one loss, earliest acquired first.
  A lot closed on or before the loss sale's date is not a replacement.
- Form 8949: code W in column (f), the disallowed loss in column (g), gain (h) = (d) - (e) + (g).
  For a short position the dates acquired and sold are both the closing date (the usual
  convention). Box A (short-term) / D (long-term): basis reported to the IRS, as IBKR reports
  options and post-2011 stock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

CENT = Decimal("0.01")
WINDOW = dt.timedelta(days=30)
WashPolicy = Literal["identical", "underlying"]
WASH_POLICIES: tuple[str, ...] = ("identical", "underlying")


def money(x: Decimal) -> Decimal:
    return x.quantize(CENT)


@dataclass
class TaxLot:
    """One position (or part of one after a split) as tax sees it. `cost` is what was paid
    (None while an open short has not been bought back); `basis_added` holds disallowed losses
    carried in from washed sales; `adjustment` is this lot's own disallowed loss (code W)."""

    lot_id: str
    trade_id: int
    symbol: str  # the underlying for options
    contract: str  # the identical-contract key (e.g. "ORCL 20170915 50 P", or "ORCL")
    description: str
    side: str  # "long" | "short"
    is_option: bool
    quantity: Decimal
    opened: dt.date  # bought (long) or sold to open (short)
    acquired: dt.date  # holding-period start: `opened`, moved back by a wash sale's tacking
    closed: dt.date | None = None
    proceeds: Decimal | None = None
    cost: Decimal | None = None
    basis_added: Decimal = Decimal(0)
    adjustment: Decimal = Decimal(0)
    wash_from: list[str] = field(default_factory=list)  # lots whose loss this one carries
    washed_into: list[str] = field(default_factory=list)  # replacements of this lot's loss

    @property
    def basis(self) -> Decimal | None:
        return None if self.cost is None else self.cost + self.basis_added

    @property
    def loss(self) -> Decimal:
        """The loss on this disposition before any wash-sale adjustment (0 for a gain)."""
        if self.closed is None or self.proceeds is None or self.basis is None:
            return Decimal(0)
        return max(self.basis - self.proceeds, Decimal(0))

    def split(self, qty: Decimal) -> tuple[TaxLot, TaxLot]:
        """(a lot of `qty`, the rest), money shared pro rata."""
        if not 0 < qty < self.quantity:
            raise ValueError(f"cannot split {qty} off a lot of {self.quantity}")
        f = qty / self.quantity

        def part(x: Decimal | None, share: Decimal) -> Decimal | None:
            return None if x is None else money(x * share)

        a = replace(
            self,
            lot_id=f"{self.lot_id}.1",
            quantity=qty,
            proceeds=part(self.proceeds, f),
            cost=part(self.cost, f),
            basis_added=money(self.basis_added * f),
            adjustment=money(self.adjustment * f),
            wash_from=list(self.wash_from),
            washed_into=list(self.washed_into),
        )

        def rest(x: Decimal | None, taken: Decimal | None) -> Decimal | None:
            return None if x is None or taken is None else x - taken

        b = replace(
            self,
            lot_id=f"{self.lot_id}.2",
            quantity=self.quantity - qty,
            proceeds=rest(self.proceeds, a.proceeds),
            cost=rest(self.cost, a.cost),
            basis_added=self.basis_added - a.basis_added,
            adjustment=self.adjustment - a.adjustment,
            wash_from=list(self.wash_from),
            washed_into=list(self.washed_into),
        )
        return a, b


def _family(lot: TaxLot, policy: WashPolicy) -> tuple[str, str]:
    """What is substantially identical to `lot`: the same stock, or the same contract on the
    same side; with `underlying`, every option position on the same side of that underlying."""
    if not lot.is_option:
        return (f"stock-{lot.side}", lot.symbol)
    if policy == "underlying":
        return (f"option-{lot.side}", lot.symbol)
    return (f"option-{lot.side}", lot.contract)


def apply_wash_sales(lots: Iterable[TaxLot], policy: WashPolicy = "identical") -> list[TaxLot]:
    """The lots after wash-sale adjustments, loss sales taken in date order (so a basis raised
    by one wash counts in the next). A partly replaced sale is split into a washed part and
    the rest; a partly used replacement into the part that carries the loss and the rest.
    Only substantially identical lots interact, so each family is worked on its own."""
    if policy not in WASH_POLICIES:
        raise ValueError(f"unknown wash-sale policy {policy!r}: one of {WASH_POLICIES}")
    families: dict[tuple[str, str], list[TaxLot]] = {}
    for x in lots:
        copy = replace(x, wash_from=list(x.wash_from), washed_into=list(x.washed_into))
        families.setdefault(_family(copy, policy), []).append(copy)
    out: list[TaxLot] = []
    for members in families.values():
        out.extend(_wash_family(members))
    return sorted(out, key=lambda x: (x.trade_id, x.lot_id))


def _wash_family(members: list[TaxLot]) -> list[TaxLot]:
    """`apply_wash_sales` within one family of substantially identical lots: loss sales from a
    heap by date, replacements found by bisecting the lots sorted by opening date (so a
    family of thousands of lots takes well under a second)."""
    registry: dict[str, TaxLot] = {x.lot_id: x for x in members}
    by_open = sorted(members, key=lambda x: (x.opened, x.lot_id))
    keys = [(x.opened, x.lot_id) for x in by_open]
    heap = [(x.closed, x.opened, x.lot_id) for x in members if x.closed is not None]
    heapq.heapify(heap)
    used: set[str] = set()  # replacement units already carrying a loss
    while heap:
        _closed, _opened, lot_id = heapq.heappop(heap)
        sale = registry.get(lot_id)
        if sale is None or sale.closed is None or sale.loss <= 0:
            continue  # split since it was queued (its parts are queued), or not a loss
        sold = sale.closed
        i = bisect.bisect_left(keys, (sold - WINDOW, ""))
        left: TaxLot | None = sale
        while left is not None and i < len(by_open) and by_open[i].opened <= sold + WINDOW:
            repl = by_open[i]
            i += 1
            if (
                repl.lot_id in used
                or repl.lot_id not in registry
                or repl.trade_id == sale.trade_id
                or (repl.closed is not None and repl.closed <= sold)
            ):
                continue
            m = min(left.quantity, repl.quantity)
            if m < repl.quantity:  # only part of the replacement carries this loss
                part, rest = repl.split(m)
                del registry[repl.lot_id]
                registry[part.lot_id], registry[rest.lot_id] = part, rest
                by_open[i - 1], keys[i - 1] = part, (part.opened, part.lot_id)
                by_open.insert(i, rest)
                keys.insert(i, (rest.opened, rest.lot_id))
                if repl.closed is not None:  # queued as a sale: queue its parts instead
                    heapq.heappush(heap, (repl.closed, repl.opened, part.lot_id))
                    heapq.heappush(heap, (repl.closed, repl.opened, rest.lot_id))
                repl = part
            if m < left.quantity:
                piece, left_rest = left.split(m)
                del registry[left.lot_id]
                registry[piece.lot_id], registry[left_rest.lot_id] = piece, left_rest
            else:
                piece, left_rest = left, None
            disallowed = piece.loss
            piece.adjustment += disallowed
            piece.washed_into.append(repl.lot_id)
            repl.basis_added += disallowed
            repl.wash_from.append(piece.lot_id)
            # the replacement's holding period includes the washed lot's
            repl.acquired = repl.opened - (sold - piece.acquired)
            used.add(repl.lot_id)
            left = left_rest
    return list(registry.values())


def long_term(acquired: dt.date, sold: dt.date) -> bool:
    """Held more than one year: sold after the anniversary of the acquisition."""
    try:
        anniversary = acquired.replace(year=acquired.year + 1)
    except ValueError:  # 29 February
        anniversary = acquired.replace(year=acquired.year + 1, day=28)
    return sold > anniversary


@dataclass(frozen=True)
class Form8949Row:
    """One line of Form 8949 (columns a-h) with its part (short / long term) and box."""

    lot_id: str
    trade_id: int
    description: str  # (a)
    acquired: dt.date  # (b)
    sold: dt.date  # (c)
    proceeds: Decimal  # (d)
    cost: Decimal  # (e)
    code: str  # (f): "W" for a wash sale
    adjustment: Decimal  # (g): the disallowed loss, positive
    term: str  # "short" | "long"
    box: str  # "A" | "D"

    @property
    def gain(self) -> Decimal:  # (h)
        return self.proceeds - self.cost + self.adjustment

    def as_dict(self) -> dict[str, object]:
        return {
            "lot": self.lot_id,
            "trade_id": self.trade_id,
            "description": self.description,
            "acquired": self.acquired.isoformat(),
            "sold": self.sold.isoformat(),
            "proceeds": format(self.proceeds, "f"),
            "cost": format(self.cost, "f"),
            "code": self.code,
            "adjustment": format(self.adjustment, "f"),
            "gain": format(self.gain, "f"),
            "term": self.term,
            "box": self.box,
        }


def form_8949(lots: Sequence[TaxLot], year: int) -> list[Form8949Row]:
    """The disposals of `year` as 8949 rows (lots after `apply_wash_sales`), by date sold."""
    rows = []
    for x in lots:
        if x.closed is None or x.closed.year != year:
            continue
        if x.proceeds is None or x.basis is None:
            continue  # reported among the problems by the caller
        short_side = x.side == "short"
        term = (
            "short"
            if (x.is_option or short_side)
            else ("long" if long_term(x.acquired, x.closed) else "short")
        )
        rows.append(
            Form8949Row(
                lot_id=x.lot_id,
                trade_id=x.trade_id,
                description=x.description,
                acquired=x.closed if short_side else x.acquired,
                sold=x.closed,
                proceeds=money(x.proceeds),
                cost=money(x.basis),
                code="W" if x.adjustment > 0 else "",
                adjustment=money(x.adjustment),
                term=term,
                box="A" if term == "short" else "D",
            )
        )
    rows.sort(key=lambda r: (r.sold, r.acquired, r.lot_id))
    return rows


@dataclass(frozen=True)
class Deferred:
    """A disallowed loss carried into a position still open at the end of the year."""

    lot_id: str
    description: str
    amount: Decimal


def deferred_losses(lots: Sequence[TaxLot], year: int) -> list[Deferred]:
    """Replacements still open after `year` that carry a disallowed loss."""
    end = dt.date(year, 12, 31)
    return [
        Deferred(x.lot_id, x.description, money(x.basis_added))
        for x in lots
        if x.basis_added > 0 and (x.closed is None or x.closed > end)
    ]
