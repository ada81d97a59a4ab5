"""An in-memory exchange for execution tests: order book (brackets, OCA, partial fills, cancels,
rejections, untransmitted orders dropped on disconnect), quotes, chains and a stepped clock.

It implements `engine.execution.ports.OrderPort` and the parts of `engine.domain.MarketData`
execution uses. Matching happens only in `advance()`, so tests are deterministic.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.domain import (
    AccountSnapshot,
    MarginImpact,
    MarketDataType,
    OptionChainInfo,
    OptionRef,
    Quote,
    Reason,
    Underlying,
)
from engine.execution.brackets import OrderLeg
from engine.execution.ports import BrokerFill, BrokerOrder, BrokerPosition
from engine.market.clock import SteppedClock

T0 = dt.datetime(2026, 11, 24, 14, 28, tzinfo=dt.UTC)  # 09:28 ET
COMMISSION = Decimal("0.65")


@dataclass
class Book:
    leg: OrderLeg
    option: OptionRef
    order_id: int
    perm_id: int
    parent_id: int
    oca: str
    status: str
    filled: int = 0
    placed: int = 1
    error: Reason | None = None
    transmitted: bool = False
    cancel_pending: bool = False
    quantity: int = 0


@dataclass
class FakeExchange:
    account: str = "DU1234567"
    clock: SteppedClock = field(default_factory=lambda: SteppedClock(T0))
    prices: dict[str, float] = field(default_factory=dict)
    quotes: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # bid, ask, oi
    chains: dict[tuple[str, str], list[OptionRef]] = field(default_factory=dict)
    books: dict[str, Book] = field(default_factory=dict)
    exec_fills: list[BrokerFill] = field(default_factory=list)
    extra_positions: list[BrokerPosition] = field(default_factory=list)
    reject_next: tuple[int, str] | None = None
    partial_max: int | None = None
    is_connected: bool = True
    place_calls: list[str] = field(default_factory=list)
    data_type: MarketDataType = MarketDataType.LIVE
    maint_margin: Decimal = Decimal("10000")
    margin_per_order: Decimal = Decimal("3000")
    _ids: Any = field(default_factory=lambda: itertools.count(100))
    _exec: Any = field(default_factory=lambda: itertools.count(1))

    # ---------------------------------------------------------------- market set-up
    def list_chain(self, symbol: str, expiry: str, strikes: list[float], base_con: int) -> None:
        self.chains[(symbol, expiry)] = [
            OptionRef(symbol, expiry, k, "P", base_con + i, symbol) for i, k in enumerate(strikes)
        ]

    def con(self, symbol: str, expiry: str, strike: float) -> int:
        return next(o.con_id for o in self.chains[(symbol, expiry)] if o.strike == strike)

    def set_quote(self, con_id: int, bid: float, ask: float, oi: float = 500) -> None:
        self.quotes[con_id] = (bid, ask, oi)

    # ---------------------------------------------------------------- OrderPort
    def connected(self) -> bool:
        return self.is_connected

    async def place(self, option: OptionRef, legs: list[OrderLeg], oca_group: str = "") -> None:
        if not self.is_connected:
            raise ConnectionError("not connected")
        for leg in legs:
            self.place_calls.append(leg.order_ref)
            if leg.order_ref in self.books:
                self.books[leg.order_ref].placed += 1
                continue
            oid = next(self._ids)
            parent = self.books.get(leg.parent_ref) if leg.parent_ref else None
            b = Book(
                leg,
                option,
                oid,
                oid * 10 + 7,
                parent.order_id if parent else 0,
                oca_group or (f"bracket-{leg.parent_ref}" if leg.parent_ref else ""),
                "PendingSubmit",
                quantity=leg.quantity,
            )
            self.books[leg.order_ref] = b
            if leg.transmit:
                group = [
                    x
                    for x in self.books.values()
                    if not x.transmitted
                    and (
                        x is b
                        or x.leg.order_ref == leg.parent_ref
                        or (x.leg.parent_ref is not None and x.leg.parent_ref == leg.parent_ref)
                    )
                ]
                for x in group:
                    x.transmitted = True
                    x.status = "PreSubmitted" if x.leg.parent_ref else "Submitted"
                entry = next((x for x in group if x.leg.leg == "entry"), None)
                if entry is not None and self.reject_next is not None:
                    code, msg = self.reject_next
                    self.reject_next = None
                    entry.status = "Inactive"
                    entry.error = Reason(f"ib.{code}", f"order rejected: {msg}")
                    for x in group:
                        if x is not entry:
                            x.status = "Cancelled"

    async def cancel(self, order_ref: str) -> None:
        b = self.books.get(order_ref)
        if b is not None and b.status not in ("Filled", "Cancelled", "Inactive"):
            b.status = "PendingCancel"
            b.cancel_pending = True

    def _order(self, b: Book) -> BrokerOrder:
        lg = b.leg
        avg = None
        if b.filled:
            fs = [f for f in self.exec_fills if f.order_ref == lg.order_ref]
            avg = sum((f.price * f.quantity for f in fs), Decimal(0)) / b.filled
        return BrokerOrder(
            order_ref=lg.order_ref,
            order_id=b.order_id,
            perm_id=b.perm_id,
            con_id=b.option.con_id,
            symbol=b.option.symbol,
            action=lg.action,
            quantity=b.quantity,
            order_type=lg.order_type,
            limit_price=lg.limit_price,
            aux_price=lg.aux_price,
            tif=lg.tif,
            status=b.status,
            filled=b.filled,
            remaining=b.quantity - b.filled,
            avg_fill_price=avg,
            parent_id=b.parent_id,
            error=b.error,
        )

    async def orders(self) -> list[BrokerOrder]:
        if not self.is_connected:
            raise ConnectionError("not connected")
        return [
            self._order(b)
            for b in self.books.values()
            if b.transmitted or b.status == "PendingSubmit"
        ]

    async def fills(self) -> list[BrokerFill]:
        if not self.is_connected:
            raise ConnectionError("not connected")
        return list(self.exec_fills)

    async def positions(self) -> list[BrokerPosition]:
        net: dict[int, tuple[OptionRef, int]] = {}
        for f in self.exec_fills:
            opt = next(b.option for b in self.books.values() if b.leg.order_ref == f.order_ref)
            q = f.quantity if f.side == "BOT" else -f.quantity
            prev = net.get(opt.con_id, (opt, 0))[1]
            net[opt.con_id] = (opt, prev + q)
        out = [
            BrokerPosition(
                o.con_id, o.symbol, "OPT", q, Decimal("100"), o.expiry, Decimal(str(o.strike)), "P"
            )
            for o, q in net.values()
            if q
        ]
        return out + list(self.extra_positions)

    # ---------------------------------------------------------------- faults
    def drop_connection(self) -> None:
        """The client went away: untransmitted orders vanish (as in TWS)."""
        self.is_connected = False
        for ref in [r for r, b in self.books.items() if not b.transmitted]:
            del self.books[ref]

    def reconnect(self) -> None:
        self.is_connected = True

    def gap(self, symbol: str, pct: float) -> None:
        self.prices[symbol] *= 1 + pct / 100

    # ---------------------------------------------------------------- matching
    def _fill(self, b: Book, qty: int, price: Decimal) -> None:
        n = next(self._exec)
        side = "SLD" if b.leg.action == "SELL" else "BOT"
        self.exec_fills.append(
            BrokerFill(
                exec_id=f"0001.{n:04d}",
                order_ref=b.leg.order_ref,
                order_id=b.order_id,
                perm_id=b.perm_id,
                con_id=b.option.con_id,
                symbol=b.option.symbol,
                side=side,
                quantity=qty,
                price=price,
                time=self.clock.now(),
                commission=COMMISSION * qty,
                expiry=b.option.expiry,
                strike=Decimal(str(b.option.strike)),
                right="P",
            )
        )
        b.filled += qty
        if b.filled >= b.quantity:
            b.status = "Filled"
            if b.oca:
                for x in self.books.values():
                    if x is not b and x.oca == b.oca and x.status not in ("Filled", "Cancelled"):
                        x.status = "Cancelled"

    def match(self) -> None:
        for b in list(self.books.values()):
            if b.cancel_pending and b.status == "PendingCancel":
                b.status = "Cancelled"
                b.cancel_pending = False
                kids = [x for x in self.books.values() if x.leg.parent_ref == b.leg.order_ref]
                for x in kids:
                    if b.filled == 0:
                        x.status = "Cancelled"
                    else:
                        x.quantity = b.filled
                continue
            if not b.transmitted or b.status not in ("Submitted", "PreSubmitted"):
                continue
            bid, ask, _ = self.quotes.get(b.option.con_id, (0.0, 0.0, 0))
            if b.leg.parent_ref:
                parent = self.books.get(b.leg.parent_ref)
                live_qty = parent.filled if parent else b.quantity
                if parent is not None and parent.status == "Cancelled":
                    live_qty = parent.filled
                if live_qty <= b.filled:
                    continue
                b.status = "Submitted"
                avail = live_qty - b.filled
            else:
                avail = b.quantity - b.filled
            if self.partial_max:
                avail = min(avail, self.partial_max)
            lg = b.leg
            sell_ok = (
                lg.action == "SELL" and lg.limit_price is not None and bid >= float(lg.limit_price)
            )
            if sell_ok or (
                lg.action == "BUY"
                and lg.order_type == "LMT"
                and lg.limit_price is not None
                and 0 < ask <= float(lg.limit_price)
            ):
                self._fill(b, avail, lg.limit_price)
            elif (
                lg.action == "BUY"
                and lg.order_type == "STP"
                and lg.aux_price is not None
                and ask >= float(lg.aux_price)
            ):
                self._fill(b, avail, Decimal(str(ask)))

    async def advance(self, seconds: float) -> None:
        self.clock.advance(dt.timedelta(seconds=max(seconds, 0.001)))
        self.match()

    # ---------------------------------------------------------------- MarketData
    def _quote(self, con_id: int, bid: float | None, ask: float | None, **kw: Any) -> Quote:
        return Quote(
            con_id=con_id,
            bid=bid,
            ask=ask,
            market_data_type=self.data_type,
            time=self.clock.now(),
            **kw,
        )

    async def qualify_underlying(self, symbol: str) -> Underlying:
        return Underlying(symbol, abs(hash(symbol)) % 10_000 + 1)

    async def underlying_quote(self, und: Underlying) -> Quote:
        p = self.prices[und.symbol]
        return self._quote(und.con_id, p - 0.01, p + 0.01, last=p)

    async def option_chain(self, und: Underlying) -> list[OptionChainInfo]:
        exps = tuple(e for (s, e) in self.chains if s == und.symbol)
        return [OptionChainInfo(und.symbol, und.con_id, und.symbol, 100, exps, ())]

    async def expiry_strikes(
        self, und: Underlying, expiry: str, trading_class: str, right: str = "P"
    ) -> list[OptionRef]:
        return list(self.chains.get((und.symbol, expiry), []))

    async def option_quotes(self, options: list[OptionRef]) -> dict[int, Quote]:
        out = {}
        for o in options:
            if o.con_id in self.quotes:
                bid, ask, oi = self.quotes[o.con_id]
                out[o.con_id] = self._quote(
                    o.con_id, bid, ask, open_interest=oi, underlying_price=self.prices.get(o.symbol)
                )
        return out

    async def what_if(self, option: OptionRef, quantity: int, limit: Decimal) -> MarginImpact:
        return MarginImpact(
            self.margin_per_order * quantity, self.margin_per_order * quantity, None, None
        )

    async def account_snapshot(self) -> AccountSnapshot:
        working = sum(1 for b in self.books.values() if b.leg.leg == "entry" and b.filled)
        maint = self.maint_margin + self.margin_per_order * working
        return AccountSnapshot(
            self.account,
            Decimal("100000"),
            Decimal("100000"),
            maint,
            maint,
            Decimal("50000"),
            Decimal("50000"),
            Decimal("200000"),
            0.5,
            self.clock.now(),
        )
