"""A deterministic stand-in for engine.sim.market.MarketModel: quotes set by the test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ib_async.contract import Contract
from ib_async.order import Order


@dataclass(frozen=True)
class Spec:
    con_id: int
    symbol: str
    trading_class: str
    expiry: date
    strike: Decimal
    right: str
    multiplier: int
    exchange: str
    underlying_con_id: int
    local_symbol: str
    last_trade_time: str


@dataclass(frozen=True)
class Stock:
    con_id: int
    symbol: str


@dataclass
class Quote:
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int = 10
    ask_size: int = 10
    last: Decimal | None = None
    volume: int = 0
    open_interest: int = 0
    iv: float = 0.2
    delta: float = -0.2
    gamma: float = 0.01
    vega: float = 0.1
    theta: float = -0.05
    und_price: Decimal | None = None
    model_price: Decimal | None = None


class FakeMarket:
    """Underlying prices and option bid/ask are whatever the test sets."""

    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {}
        self.stocks: dict[str, Stock] = {}
        self.specs: dict[int, Spec] = {}
        self.quotes: dict[int, tuple[Decimal | None, Decimal | None]] = {}
        self.settlements: dict[tuple[str, date], Decimal] = {}
        self._next = 900_000_001

    def add_stock(self, symbol: str, price: str, con_id: int) -> Stock:
        self.prices[symbol] = Decimal(price)
        self.stocks[symbol] = Stock(con_id, symbol)
        return self.stocks[symbol]

    def add_option(
        self, symbol: str, expiry: date, strike: str, right: str, bid: str, ask: str
    ) -> Spec:
        con_id = self._next
        self._next += 1
        k = Decimal(strike)
        local = f"{symbol:<6}{expiry:%y%m%d}{right}{int(k * 1000):08d}"
        spec = Spec(
            con_id,
            symbol,
            symbol,
            expiry,
            k,
            right,
            100,
            "SMART",
            self.stocks[symbol].con_id,
            local,
            "16:00",
        )
        self.specs[con_id] = spec
        self.set_quote(spec, bid, ask)
        return spec

    def set_quote(self, spec: Spec, bid: str | None, ask: str | None) -> None:
        self.quotes[spec.con_id] = (
            Decimal(bid) if bid is not None else None,
            Decimal(ask) if ask is not None else None,
        )

    def find(self, symbol: str, sec_type: str | None = None) -> Stock | None:
        return self.stocks.get(symbol)

    def by_con_id(self, con_id: int) -> Spec | Stock | None:
        if con_id in self.specs:
            return self.specs[con_id]
        for stock in self.stocks.values():
            if stock.con_id == con_id:
                return stock
        return None

    def price(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    def option_quote(self, opt: Spec) -> Quote:
        bid, ask = self.quotes[opt.con_id]
        return Quote(bid=bid, ask=ask, und_price=self.prices[opt.symbol])

    def option(
        self, symbol: str, trading_class: str, expiry: date, strike: Decimal, right: str
    ) -> Spec | None:
        for spec in self.specs.values():
            if (spec.symbol, spec.expiry, spec.strike, spec.right) == (
                symbol,
                expiry,
                Decimal(strike),
                right,
            ):
                return spec
        return None

    def settlement_price(self, symbol: str, day: date) -> Decimal:
        return self.settlements.get((symbol, day), self.prices[symbol])

    def tick_size(self, opt: Spec, price: float) -> Decimal:
        if opt.symbol in {"SPX", "XSP"}:
            return Decimal("0.05") if price < 3 else Decimal("0.10")
        return Decimal("0.01") if opt.symbol == "SPY" or price < 3 else Decimal("0.05")


def contract(spec: Spec) -> Contract:
    """What the server hands the book: the client's contract with conId resolved."""
    return Contract(
        conId=spec.con_id,
        symbol=spec.symbol,
        secType="OPT",
        lastTradeDateOrContractMonth=spec.expiry.strftime("%Y%m%d"),
        strike=float(spec.strike),
        right=spec.right,
        multiplier="100",
        exchange="SMART",
        currency="USD",
    )


def lmt(order_id: int, action: str, qty: int, price: float, **kw: object) -> Order:
    return Order(
        orderId=order_id,
        action=action,
        totalQuantity=qty,
        orderType="LMT",
        lmtPrice=price,
        **kw,  # type: ignore[arg-type]
    )
