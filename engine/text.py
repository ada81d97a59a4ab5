"""How amounts and prices are written in reasons, events and command output."""

from __future__ import annotations

from decimal import Decimal


def usd(amount: Decimal | float) -> str:
    """Dollars with thousands separators and cents, sign first: -$1,234.50."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def price(value: Decimal) -> str:
    """An option price: cents always shown (0.30, not 0.3), a finer price kept as it is."""
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
