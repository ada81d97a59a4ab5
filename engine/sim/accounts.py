"""Positions, booked history (trades and option exercise/assignment/expiry) and Reg-T margin
for the simulated account.

Money is Decimal. Records are plain dataclasses that `to_dict`/`from_dict` turn into
JSON-friendly dicts (Decimal -> str, datetime/date -> ISO text) for engine.sim.state.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from ib_async.contract import Contract

ZERO = Decimal("0")

# Options on these settle in cash at expiry (European, AM/PM settled indexes).
CASH_SETTLED = frozenset({"SPX", "SPXW", "XSP", "NDX", "NDXP", "RUT", "RUTW", "VIX"})
# Index options and broad, non-leveraged ETF options: 15% Reg-T rate instead of 20%.
INDEX_OR_BROAD_ETF = frozenset(
    {"SPX", "SPXW", "XSP", "NDX", "NDXP", "RUT", "RUTW", "VIX", "SPY", "QQQ", "IWM", "DIA"}
)

T = TypeVar("T")


def is_index_or_broad_etf(symbol: str) -> bool:
    """True when the 15% Reg-T rate applies (SPX, XSP, SPY, ...)."""
    return symbol.upper() in INDEX_OR_BROAD_ETF


def is_cash_settled(symbol: str) -> bool:
    """True for cash-settled index options (SPX, XSP, ...)."""
    return symbol.upper() in CASH_SETTLED


@dataclass
class Position:
    """One open position. `avg_cost` follows IBKR: per contract/share, multiplier included,
    commission folded in, positive for shorts too (the net credit per contract)."""

    contract: Contract
    quantity: Decimal
    avg_cost: Decimal
    realized: Decimal = ZERO
    opened: datetime | None = None


@dataclass
class TradeRecord:
    """One booked trade (an execution or an end-of-day book trade) as Flex reports it."""

    transaction_id: str
    trade_id: str
    when: datetime  # UTC
    trade_date: date  # exchange (America/New_York) date
    transaction_type: str  # ExchTrade | BookTrade
    buy_sell: str  # BUY | SELL
    quantity: Decimal  # signed: + bought, - sold
    price: Decimal
    proceeds: Decimal  # -quantity * price * multiplier
    commission: Decimal  # <= 0, Flex ibCommission sign
    net_cash: Decimal  # proceeds + commission
    cost: Decimal  # Flex `cost`: basis opened (negative for a credit) or basis closed
    realized: Decimal  # Flex fifoPnlRealized
    open_close: str  # O | C
    notes: str  # "", "Ep", "A", "Ex", "P", ...
    con_id: int
    sec_type: str  # OPT | STK
    symbol: str
    local_symbol: str
    description: str
    underlying_symbol: str = ""
    underlying_con_id: int = 0
    put_call: str = ""
    strike: Decimal | None = None
    expiry: date | None = None
    multiplier: Decimal = Decimal("1")
    exchange: str = "--"
    exec_id: str = ""
    perm_id: int = 0
    order_id: int = 0
    client_id: int = 0
    order_ref: str = ""
    order_type: str = ""
    order_time: datetime | None = None
    account: str = ""


@dataclass
class EAERecord:
    """One Option Exercise/Assignment/Expiration row (Flex `OptionEAE`)."""

    transaction_id: str
    trade_id: str
    day: date
    transaction_type: str  # Assignment | Exercise | Expiration | Buy | Sell | Cash Settlement
    con_id: int
    sec_type: str
    symbol: str
    local_symbol: str
    description: str
    quantity: Decimal
    trade_price: Decimal
    mark_price: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    realized: Decimal
    multiplier: Decimal
    underlying_symbol: str = ""
    underlying_con_id: int = 0
    put_call: str = ""
    strike: Decimal | None = None
    expiry: date | None = None
    account: str = ""


@dataclass
class Ledger:
    """The account's booked history, in booking order."""

    trades: list[TradeRecord] = field(default_factory=list)
    eae: list[EAERecord] = field(default_factory=list)


# --- contract helpers ---------------------------------------------------------------------


def contract_to_dict(contract: Contract) -> dict[str, Any]:
    """The simple (non-combo) fields of an ib_async Contract."""
    return {
        "conId": contract.conId,
        "symbol": contract.symbol,
        "secType": contract.secType,
        "lastTradeDateOrContractMonth": contract.lastTradeDateOrContractMonth,
        "strike": contract.strike,
        "right": contract.right,
        "multiplier": contract.multiplier,
        "exchange": contract.exchange,
        "primaryExchange": contract.primaryExchange,
        "currency": contract.currency,
        "localSymbol": contract.localSymbol,
        "tradingClass": contract.tradingClass,
    }


def contract_from_dict(data: dict[str, Any]) -> Contract:
    """Inverse of contract_to_dict."""
    return Contract(**data)


def multiplier_of(contract: Contract) -> Decimal:
    """The contract multiplier as Decimal (1 for stock)."""
    if contract.secType == "STK" or not contract.multiplier:
        return Decimal("1")
    return Decimal(str(contract.multiplier))


def expiry_of(contract: Contract) -> date | None:
    """The option expiry date from lastTradeDateOrContractMonth (YYYYMMDD)."""
    text = contract.lastTradeDateOrContractMonth
    if contract.secType != "OPT" or len(text) < 8:
        return None
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def occ_symbol(symbol: str, expiry: date, right: str, strike: Decimal) -> str:
    """OCC-style option symbol as IBKR's localSymbol/Flex `symbol`: `ORCL  170915P00050000`."""
    return f"{symbol:<6}{expiry:%y%m%d}{right}{int(strike * 1000):08d}"


def option_description(symbol: str, expiry: date, right: str, strike: Decimal) -> str:
    """Flex-style description: `ORCL 15SEP17 50 P`."""
    return f"{symbol} {expiry.strftime('%d%b%y').upper()} {plain(strike)} {right}"


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros (`50`, `0.53`, `-3.5`)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        return "0"
    return text


# --- margin ---------------------------------------------------------------------------------


def option_requirement(
    contract: Contract, quantity: Decimal, und_price: Decimal, option_price: Decimal
) -> Decimal:
    """Reg-T initial (= maintenance) requirement of an option position, from
    engine.sim.margin: short puts `put + max(rate*U - OTM, 10%*K)`, short calls
    `call + max(rate*U - OTM, 10%*U)` (rate 20% stock, 15% index/broad ETF); longs 0."""
    if quantity >= 0:
        return ZERO
    from engine.sim.margin import short_call_margin, short_put_margin

    contracts = int(-quantity)
    strike = Decimal(str(contract.strike))
    mult = int(multiplier_of(contract))
    broad = is_index_or_broad_etf(contract.symbol)
    if contract.right.upper().startswith("P"):
        return short_put_margin(und_price, strike, option_price, mult, contracts, broad)
    return short_call_margin(und_price, strike, option_price, mult, contracts, broad)


def stock_requirement(quantity: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """Reg-T (initial, maintenance) for a stock position (engine.sim.margin: 50% / 25%)."""
    from engine.sim.margin import stock_initial_margin, stock_maintenance_margin

    shares = int(quantity)
    return stock_initial_margin(price, shares), stock_maintenance_margin(price, shares)


# --- (de)serialisation ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Contract):
        return contract_to_dict(value)
    return value


def to_dict(record: Any) -> dict[str, Any]:
    """A record dataclass as a JSON-friendly dict."""
    return {f.name: _encode(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _decode(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        return _decode(inner[0], value)
    if kind is Decimal:
        return Decimal(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is Contract:
        return contract_from_dict(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of to_dict for the record dataclasses of this module."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: _decode(hints[k], v) for k, v in data.items() if k in names}
    return cls(**kwargs)
