"""A small deterministic market model double for the protocol tests (the real one is
engine.sim.market.MarketModel; this double has the same interface)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.sim.universe import SymbolSpec


@dataclass(frozen=True)
class OptionSpec:
    con_id: int
    symbol: str
    trading_class: str
    expiry: dt.date
    strike: float
    right: str
    multiplier: int
    exchange: str
    underlying_con_id: int
    local_symbol: str
    last_trade_time: str = "16:00:00"


@dataclass
class ChainParams:
    exchange: str
    trading_class: str
    multiplier: str
    expirations: list[dt.date]
    strikes: list[float]


@dataclass
class OptionQuote:
    bid: float | None
    ask: float | None
    bid_size: int
    ask_size: int
    last: float | None
    volume: int
    open_interest: int
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float
    model_price: float


@dataclass
class UnderlyingQuote:
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    volume: int
    close: float


@dataclass
class Bar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int


class FakeMarket:
    calendar = None

    def __init__(self, today: dt.date = dt.date(2026, 11, 24)) -> None:
        self.today = today
        self.stocks = {
            "AAPL": SymbolSpec(
                "AAPL",
                265598,
                primary_exchange="NASDAQ",
                sector="Technology",
                industry="Computers",
                long_name="APPLE INC",
                base_price=230.0,
            ),
            "KO": SymbolSpec(
                "KO",
                8894,
                sector="Consumer, Non-cyclical",
                industry="Beverages",
                long_name="COCA-COLA CO/THE",
                base_price=70.0,
            ),
            "SPX": SymbolSpec(
                "SPX",
                416904,
                sec_type="IND",
                exchange="CBOE",
                primary_exchange="CBOE",
                sector="Indices",
                long_name="S&P 500 Stock Index",
                base_price=6000.0,
            ),
        }
        self.prices = {s: spec.base_price for s, spec in self.stocks.items()}
        self.expiries = [today + dt.timedelta(days=3), today + dt.timedelta(days=10)]
        self.option_overrides: dict[int, tuple[float | None, float | None]] = {}
        self._options: dict[int, OptionSpec] = {}
        self._index: dict[tuple[str, str, dt.date, float, str], OptionSpec] = {}
        for sym, spec in self.stocks.items():
            base = spec.base_price
            step = 5.0 if base < 1000 else 25.0
            for n, exp in enumerate(self.expiries):
                # the farther expiry lists fewer strikes (per-expiry strikes differ)
                width = 4 if n == 0 else 2
                for i in range(-width, width + 1):
                    k = round(base / step) * step + i * step
                    for right in ("P", "C"):
                        tc = "SPXW" if sym == "SPX" else sym
                        cid = 500_000_000 + len(self._options)
                        local = f"{sym:<6}{exp:%y%m%d}{right}{int(k * 1000):08d}"
                        o = OptionSpec(
                            cid, sym, tc, exp, float(k), right, 100, "SMART", spec.con_id, local
                        )
                        self._options[cid] = o
                        self._index[(sym, tc, exp, float(k), right)] = o

    # --- reference data
    def specs(self) -> list[SymbolSpec]:
        return list(self.stocks.values())

    def find(self, symbol: str, sec_type: str | None = None) -> SymbolSpec | None:
        spec = self.stocks.get(symbol)
        if spec is None or (sec_type and spec.sec_type != sec_type):
            return None
        return spec

    def by_con_id(self, con_id: int) -> Any:
        for spec in self.stocks.values():
            if spec.con_id == con_id:
                return spec
        return self._options.get(con_id)

    def option_params(self, symbol: str) -> list[ChainParams]:
        if symbol not in self.stocks:
            return []
        strikes = sorted({o.strike for o in self._options.values() if o.symbol == symbol})
        tc = "SPXW" if symbol == "SPX" else symbol
        return [ChainParams("SMART", tc, "100", list(self.expiries), strikes)]

    def expiry_strikes(self, symbol: str, trading_class: str, expiry: Any) -> list[float]:
        return sorted(
            {
                o.strike
                for o in self._options.values()
                if o.symbol == symbol
                and o.trading_class == trading_class
                and o.expiry == expiry
                and o.right == "P"
            }
        )

    def option(
        self, symbol: str, trading_class: str, expiry: Any, strike: float, right: str
    ) -> OptionSpec | None:
        return self._index.get((symbol, trading_class, expiry, float(strike), right[0].upper()))

    # --- prices
    def price(self, symbol: str) -> float:
        return self.prices[symbol]

    def set_price(self, symbol: str, price: float) -> None:
        self.prices[symbol] = float(price)

    def apply_gap(self, symbol: str, pct: float) -> None:
        self.prices[symbol] *= 1 + pct

    def underlying_quote(self, symbol: str) -> UnderlyingQuote:
        p = self.prices[symbol]
        return UnderlyingQuote(
            round(p - 0.01, 2),
            round(p + 0.01, 2),
            300,
            400,
            p,
            1_000_000,
            self.stocks[symbol].base_price,
        )

    def tick_size(self, spec: Any, price: float) -> float:
        return 0.01

    def option_quote(self, opt: OptionSpec) -> OptionQuote:
        und = self.prices[opt.symbol]
        intrinsic = max(0.0, opt.strike - und) if opt.right == "P" else max(0.0, und - opt.strike)
        mid = round(intrinsic + 2.0, 2)
        bid, ask = round(mid - 0.05, 2), round(mid + 0.05, 2)
        if opt.con_id in self.option_overrides:
            bid, ask = self.option_overrides[opt.con_id]  # type: ignore[assignment]
        delta = -0.3 if opt.right == "P" else 0.3
        return OptionQuote(
            bid, ask, 10, 12, mid, 150, 2000, 0.25, delta, 0.02, 0.15, -0.05, und, mid
        )

    def historical_bars(self, symbol: str, end: dt.datetime, days: int) -> list[Bar]:
        p = self.stocks[symbol].base_price
        start = end.date() - dt.timedelta(days=days)
        out = []
        d = start
        while d <= end.date():
            if d.weekday() < 5:
                out.append(Bar(d, p, p * 1.01, p * 0.99, p, 1000))
            d += dt.timedelta(days=1)
        return out

    def scan(
        self,
        code: str,
        rows: int,
        above_price: float | None = None,
        above_volume: int | None = None,
    ) -> list[SymbolSpec]:
        out = [s for s in self.stocks.values() if s.sec_type == "STK"]
        if above_price:
            out = [s for s in out if self.prices[s.symbol] > above_price]
        return out[:rows]

    def is_open(self) -> bool:
        return True


def settlement_price(self: FakeMarket, symbol: str, on: dt.date) -> float:
    return self.prices[symbol]


FakeMarket.settlement_price = settlement_price  # type: ignore[attr-defined]
