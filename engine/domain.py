"""Shared value types that cross package boundaries (broker -> selection/execution -> store).

Quotes and greeks are analytics (floats); prices that get booked or sent are `Decimal`.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import Protocol

#: Symbols IBKR lists as CBOE indexes rather than stocks (no sector, cash-settled options).
INDEX_SYMBOLS = frozenset({"SPX", "XSP", "VIX", "VIX3M", "NDX", "RUT", "DJX"})


@dataclass(frozen=True)
class Reason:
    """Why something was rejected, adapted, cancelled or halted: a stable code + human text."""

    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


class MarketDataType(IntEnum):
    """IBKR market data types (reqMarketDataType)."""

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4

    @property
    def label(self) -> str:
        return {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}[int(self)]


@dataclass(frozen=True)
class Underlying:
    """A qualified underlying (stock, ETF or index)."""

    symbol: str
    con_id: int
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    sector: str = "Unknown"
    industry: str = ""
    long_name: str = ""


@dataclass(frozen=True)
class OptionChainInfo:
    """reqSecDefOptParams for one trading class on SMART. `strikes` is the union over expiries."""

    symbol: str
    underlying_con_id: int
    trading_class: str
    multiplier: int
    expirations: tuple[str, ...]  # YYYYMMDD
    strikes: tuple[float, ...]


@dataclass(frozen=True)
class OptionRef:
    """One listed option contract (qualified: con_id > 0)."""

    symbol: str
    expiry: str  # YYYYMMDD
    strike: float
    right: str  # "P" or "C"
    con_id: int
    trading_class: str
    multiplier: int = 100
    exchange: str = "SMART"
    sec_type: str = "OPT"  # OPT (stocks/ETFs) or OPT on index ("IND" underlyings still OPT)


@dataclass(frozen=True)
class Quote:
    """A market snapshot of one contract with the data type and time it was received."""

    con_id: int
    bid: float | None
    ask: float | None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    underlying_price: float | None = None
    market_data_type: MarketDataType = MarketDataType.LIVE
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    missing: tuple[str, ...] = ()  # required fields that did not arrive in time

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None or self.bid <= 0 or self.ask <= 0:
            return None
        return (self.bid + self.ask) / 2

    @property
    def is_live(self) -> bool:
        return self.market_data_type == MarketDataType.LIVE


@dataclass(frozen=True)
class MarginImpact:
    """An IBKR what-if result for one order (per the quantity asked)."""

    init_margin_change: Decimal
    maint_margin_change: Decimal
    equity_with_loan_after: Decimal | None
    commission: Decimal | None
    warning: str = ""
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class AccountSnapshot:
    """Account summary values from IBKR, timestamped."""

    account: str
    net_liquidation: Decimal
    equity_with_loan: Decimal
    full_init_margin: Decimal
    full_maint_margin: Decimal
    available_funds: Decimal
    excess_liquidity: Decimal
    buying_power: Decimal
    cushion: float
    time: dt.datetime

    @property
    def is_paper(self) -> bool:
        return self.account.startswith("DU") or self.account.startswith("DF")


class MarketData(Protocol):
    """What selection and execution need from IBKR; implemented by engine.broker.services.

    Every method talks to IBKR (through the pacing scheduler) or raises
    `engine.broker.errors.BrokerError` with a Reason; there is no fallback to estimates.
    """

    async def qualify_underlying(self, symbol: str) -> Underlying: ...

    async def underlying_quote(self, und: Underlying) -> Quote: ...

    async def option_chain(self, und: Underlying) -> list[OptionChainInfo]: ...

    async def expiry_strikes(
        self, und: Underlying, expiry: str, trading_class: str, right: str = "P"
    ) -> list[OptionRef]: ...

    async def option_quotes(self, options: list[OptionRef]) -> dict[int, Quote]: ...

    async def what_if(self, option: OptionRef, quantity: int, limit: Decimal) -> MarginImpact: ...

    async def account_snapshot(self) -> AccountSnapshot: ...
