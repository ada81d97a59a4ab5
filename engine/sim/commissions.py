"""IBKR Pro tiered commissions (US options and stock) for the simulated account.

Options: per contract by premium ($0.65 >= 0.10, $0.50 for 0.05-0.10, $0.25 < 0.05; above
10,000 contracts a month 0.50/0.25/0.15), $1.00 minimum per order, plus regulatory fees
(ORF/OCC $0.02 per contract, FINRA TAF $0.00279 per contract sold). Assignments and
expiries carry no commission.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MIN_PER_ORDER = Decimal("1.00")
REG_FEE_PER_CONTRACT = Decimal("0.02")
FINRA_TAF_PER_CONTRACT_SOLD = Decimal("0.00279")
STOCK_PER_SHARE = Decimal("0.005")
STOCK_MIN = Decimal("1.00")
STOCK_MAX_PCT = Decimal("0.01")

_TIERS: tuple[tuple[int, tuple[Decimal, Decimal, Decimal]], ...] = (
    (10_000, (Decimal("0.65"), Decimal("0.50"), Decimal("0.25"))),
    (10**12, (Decimal("0.50"), Decimal("0.25"), Decimal("0.15"))),
)


def per_contract_rate(premium: float | Decimal, monthly_contracts: int = 0) -> Decimal:
    """The tiered base rate for one contract at this premium and monthly volume."""
    p = premium if isinstance(premium, Decimal) else Decimal(str(premium))
    rates = _TIERS[0][1] if monthly_contracts <= _TIERS[0][0] else _TIERS[1][1]
    if p >= Decimal("0.10"):
        return rates[0]
    if p >= Decimal("0.05"):
        return rates[1]
    return rates[2]


def option_commission(
    contracts: int | float, premium: float | Decimal, side: str, monthly_contracts: int = 0
) -> Decimal:
    """Commission + fees for one order (or fill) of `contracts`; side "BUY"/"SELL" (BOT/SLD)."""
    n = Decimal(str(abs(contracts)))
    if n == 0:
        return Decimal("0.00")
    base = max(per_contract_rate(premium, monthly_contracts) * n, MIN_PER_ORDER)
    fees = REG_FEE_PER_CONTRACT * n
    if side.upper() in ("SELL", "SLD", "S"):
        fees += FINRA_TAF_PER_CONTRACT_SOLD * n
    return (base + fees).quantize(CENT, ROUND_HALF_UP)


def stock_commission(
    shares: int | float, price: float | Decimal, assignment: bool = False
) -> Decimal:
    """$0.005/share, min $1, max 1% of trade value; assignments/exercises carry $0."""
    if assignment or shares == 0:
        return Decimal("0.00")
    n = Decimal(str(abs(shares)))
    p = price if isinstance(price, Decimal) else Decimal(str(price))
    c = max(STOCK_PER_SHARE * n, STOCK_MIN)
    c = min(c, STOCK_MAX_PCT * n * p) if n * p > 0 else c
    return c.quantize(CENT, ROUND_HALF_UP)
