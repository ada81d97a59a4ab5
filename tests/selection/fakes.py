"""A deterministic in-memory `MarketData` for selection tests: Black-Scholes chains with skew,
spreads, open interest, Reg-T what-if margin, and call counters."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from engine.broker.errors import BrokerError
from engine.domain import (
    AccountSnapshot,
    MarginImpact,
    MarketDataType,
    OptionChainInfo,
    OptionRef,
    Quote,
    Underlying,
)
from engine.market.blackscholes import bs_greeks

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 ET
SECTORS = ["Technology", "Financial", "Energy", "Healthcare", "Consumer", "Industrial"]


def fridays(start: dt.date, n: int) -> list[str]:
    d = start + dt.timedelta(days=(4 - start.weekday()) % 7)
    return [(d + dt.timedelta(weeks=i)).strftime("%Y%m%d") for i in range(n)]


@dataclass
class SymbolSpec:
    symbol: str
    price: float
    iv: float
    sector: str
    spread: float = 0.05  # half-spread as a fraction of the price (plus one cent)
    oi: int = 500
    volume: int = 100
    live: bool = True
    greeks: bool = True
    expirations: list[str] | None = None


@dataclass
class FakeMarketData:
    specs: dict[str, SymbolSpec]
    now: dt.datetime = NOW
    nlv: Decimal = Decimal("1000000")
    maint: Decimal = Decimal("50000")
    calls: Counter[str] = field(default_factory=Counter)
    quoted: list[int] = field(default_factory=list)
    fail_what_if: set[str] = field(default_factory=set)
    account_ok: bool = True
    #: (symbol, sec_type, position) of the account's positions
    held: list[tuple[str, str, int]] = field(default_factory=list)
    _refs: dict[int, tuple[SymbolSpec, OptionRef]] = field(default_factory=dict)

    async def qualify_underlying(self, symbol: str) -> Underlying:
        self.calls["qualify"] += 1
        spec = self.specs.get(symbol)
        if spec is None:
            raise BrokerError.of("broker.unknown_symbol", f"IBKR knows no STK {symbol}")
        return Underlying(symbol, con_id=abs(hash(symbol)) % 10**6 + 1, sector=spec.sector)

    async def underlying_quote(self, und: Underlying) -> Quote:
        self.calls["und_quote"] += 1
        s = self.specs[und.symbol]
        mdt = MarketDataType.LIVE if s.live else MarketDataType.DELAYED
        return Quote(
            und.con_id,
            s.price - 0.01,
            s.price + 0.01,
            last=s.price,
            market_data_type=mdt,
            time=self.now,
        )

    async def option_chain(self, und: Underlying) -> list[OptionChainInfo]:
        self.calls["chain"] += 1
        s = self.specs[und.symbol]
        exps = s.expirations if s.expirations is not None else fridays(self.now.date(), 6)
        return [OptionChainInfo(und.symbol, und.con_id, und.symbol, 100, tuple(exps), ())]

    def step(self, price: float) -> float:
        return 0.5 if price < 25 else 1.0 if price < 100 else 2.5 if price < 250 else 5.0

    async def expiry_strikes(
        self, und: Underlying, expiry: str, trading_class: str, right: str = "P"
    ) -> list[OptionRef]:
        self.calls["strikes"] += 1
        s = self.specs[und.symbol]
        st = self.step(s.price)
        out = []
        k = st * round(s.price * 0.5 / st)
        i = 0
        while k <= s.price * 1.2:
            cid = (und.con_id * 1000 + int(expiry[-4:])) * 1000 + i
            ref = OptionRef(und.symbol, expiry, round(k, 2), right, cid, trading_class)
            self._refs[cid] = (s, ref)
            out.append(ref)
            k += st
            i += 1
        return out

    def vol(self, s: SymbolSpec, k: float) -> float:
        return s.iv * (1 + 1.5 * max(0.0, 1 - k / s.price))

    def years(self, expiry: str) -> float:
        exp = dt.datetime.strptime(expiry, "%Y%m%d").replace(hour=21, tzinfo=dt.UTC)
        return max((exp - self.now).total_seconds(), 3600) / (365 * 86400)

    async def option_quotes(self, options: list[OptionRef]) -> dict[int, Quote]:
        self.calls["option_quotes"] += 1
        out = {}
        for o in options:
            self.quoted.append(o.con_id)
            s, _ = self._refs[o.con_id]
            sig = self.vol(s, o.strike)
            g = bs_greeks(s.price, o.strike, self.years(o.expiry), 0.04, 0.0, sig, "P")
            half = g.price * s.spread + 0.01
            bid = round(max(g.price - half, 0.0), 2)
            ask = round(g.price + half, 2)
            out[o.con_id] = Quote(
                o.con_id,
                bid=bid if bid > 0 else None,
                ask=ask,
                volume=s.volume,
                open_interest=s.oi,
                iv=sig if s.greeks else None,
                delta=g.delta if s.greeks else None,
                gamma=g.gamma if s.greeks else None,
                theta=g.theta if s.greeks else None,
                vega=g.vega if s.greeks else None,
                underlying_price=s.price,
                market_data_type=MarketDataType.LIVE if s.live else MarketDataType.DELAYED,
                time=self.now,
            )
        return out

    def margin(self, o: OptionRef, limit: Decimal) -> Decimal:
        s, _ = self._refs[o.con_id]
        u = Decimal(str(s.price))
        k = Decimal(str(o.strike))
        otm = max(Decimal(0), u - k)
        per_share = limit + max(Decimal("0.20") * u - otm, Decimal("0.10") * k)
        return (per_share * 100).quantize(Decimal("0.01"))

    async def what_if(self, option: OptionRef, quantity: int, limit: Decimal) -> MarginImpact:
        self.calls["what_if"] += 1
        if option.symbol in self.fail_what_if:
            raise BrokerError.of("broker.what_if_failed", "IBKR returned no what-if result")
        m = self.margin(option, limit) * quantity
        return MarginImpact(m, m, None, Decimal("1.00"), time=self.now)

    def positions(self) -> list[SimpleNamespace]:
        """Shaped like ib_async's Position: `.contract.symbol/.secType`, `.position`."""
        return [
            SimpleNamespace(contract=SimpleNamespace(symbol=sym, secType=kind), position=qty)
            for sym, kind, qty in self.held
        ]

    async def account_snapshot(self) -> AccountSnapshot:
        self.calls["account"] += 1
        if not self.account_ok:
            raise BrokerError.of("session.disconnected", "not connected to IBKR")
        return AccountSnapshot(
            "DU1234567",
            self.nlv,
            self.nlv,
            self.maint,
            self.maint,
            self.nlv - self.maint,
            self.nlv - self.maint,
            4 * (self.nlv - self.maint),
            0.9,
            self.now,
        )


def make_specs(n: int, seed: int = 1) -> dict[str, SymbolSpec]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        sym = f"S{i:03d}"
        out[sym] = SymbolSpec(
            sym,
            price=round(rng.uniform(20, 600), 2),
            iv=rng.uniform(0.3, 0.9),
            sector=SECTORS[i % len(SECTORS)],
            spread=rng.uniform(0.02, 0.08),
            oi=rng.choice([20, 200, 2000, 20000]),
            volume=rng.choice([0, 10, 100, 1000]),
        )
    return out
