"""Reg-T margin requirements for the simulated account (IBKR US options/stock rules).

Short put: (put + max(rate·U − OTM, 10%·K)) × multiplier × contracts, rate 20% for stock
options and 15% for broad-based index/ETF options (SPX, XSP, SPY). Initial = maintenance.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

BROAD_BASED = frozenset({"SPX", "SPXW", "XSP", "SPY", "QQQ", "IWM", "DIA", "NDX", "RUT"})
CENT = Decimal("0.01")


def _d(x: float | Decimal | int) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def is_broad_based(symbol: str) -> bool:
    """Whether `symbol` gets the 15% index/broad-ETF rate."""
    return symbol.upper() in BROAD_BASED


def short_put_margin(
    und_price: float | Decimal,
    strike: float | Decimal,
    put_price: float | Decimal,
    multiplier: int,
    contracts: int,
    index_or_broad_etf: bool,
) -> Decimal:
    """Reg-T requirement of `contracts` short puts (contracts as a positive count)."""
    u, k, p = _d(und_price), _d(strike), _d(put_price)
    rate = Decimal("0.15") if index_or_broad_etf else Decimal("0.20")
    otm = max(Decimal(0), u - k)
    per_share = p + max(rate * u - otm, Decimal("0.10") * k)
    return (per_share * multiplier * abs(contracts)).quantize(CENT, ROUND_HALF_UP)


def short_call_margin(
    und_price: float | Decimal,
    strike: float | Decimal,
    call_price: float | Decimal,
    multiplier: int,
    contracts: int,
    index_or_broad_etf: bool,
) -> Decimal:
    """Reg-T naked call: call + max(rate·U − OTM, 10%·U)."""
    u, k, c = _d(und_price), _d(strike), _d(call_price)
    rate = Decimal("0.15") if index_or_broad_etf else Decimal("0.20")
    otm = max(Decimal(0), k - u)
    per_share = c + max(rate * u - otm, Decimal("0.10") * u)
    return (per_share * multiplier * abs(contracts)).quantize(CENT, ROUND_HALF_UP)


def cash_secured_put(strike: float | Decimal, multiplier: int, contracts: int) -> Decimal:
    """Cash-account requirement of short puts: the strike value."""
    return (_d(strike) * multiplier * abs(contracts)).quantize(CENT, ROUND_HALF_UP)


def long_option_margin(price: float | Decimal, multiplier: int, contracts: int) -> Decimal:
    """Long options: paid in full, no maintenance requirement."""
    return Decimal("0.00")


def stock_initial_margin(price: float | Decimal, shares: int | float) -> Decimal:
    """Reg-T initial: 50% of the position value (long or short)."""
    return (Decimal("0.50") * _d(price) * abs(_d(shares))).quantize(CENT, ROUND_HALF_UP)


def stock_maintenance_margin(price: float | Decimal, shares: int | float) -> Decimal:
    """Maintenance: 25% of the position value (long or short)."""
    return (Decimal("0.25") * _d(price) * abs(_d(shares))).quantize(CENT, ROUND_HALF_UP)
