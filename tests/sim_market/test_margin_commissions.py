"""Reg-T margin vectors and IBKR Pro tiered commissions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.sim.commissions import option_commission, per_contract_rate, stock_commission
from engine.sim.margin import (
    cash_secured_put,
    is_broad_based,
    long_option_margin,
    short_put_margin,
    stock_initial_margin,
    stock_maintenance_margin,
)


@pytest.mark.parametrize(
    ("u", "k", "p", "broad", "expected"),
    [
        (47.50, 45, 0.50, False, Decimal("750")),
        (5000, 4800, 5.00, True, Decimal("55500")),
        (500, 480, 0.50, True, Decimal("5550")),
    ],
)
def test_short_put_vectors(u: float, k: float, p: float, broad: bool, expected: Decimal) -> None:
    assert short_put_margin(u, k, p, 100, 1, broad) == expected


def test_short_put_floor_and_scaling() -> None:
    # deep OTM: 10% of strike floor
    assert short_put_margin(100, 50, 0.05, 100, 2, False) == Decimal("1010.00")
    assert is_broad_based("SPX") and is_broad_based("XSP") and is_broad_based("SPY")
    assert not is_broad_based("AAPL")
    assert cash_secured_put(45, 100, 2) == Decimal("9000.00")
    assert long_option_margin(1.2, 100, 3) == Decimal("0")
    assert stock_initial_margin(100, 100) == Decimal("5000.00")
    assert stock_maintenance_margin(100, -100) == Decimal("2500.00")


def test_option_commission_tiers() -> None:
    assert per_contract_rate(1.00) == Decimal("0.65")
    assert per_contract_rate(0.07) == Decimal("0.50")
    assert per_contract_rate(0.03) == Decimal("0.25")
    assert per_contract_rate(1.00, monthly_contracts=20_000) == Decimal("0.50")
    assert per_contract_rate(0.03, monthly_contracts=20_000) == Decimal("0.15")
    # 10 contracts sold at 1.00: 6.50 + 0.20 ORF/OCC + 0.0279 TAF = 6.7279 -> 6.73
    assert option_commission(10, 1.00, "SELL") == Decimal("6.73")
    # bought: no TAF
    assert option_commission(10, 1.00, "BUY") == Decimal("6.70")
    # $1 minimum per order (plus fees): 1 contract at 0.03 -> 1.00 + 0.02
    assert option_commission(1, 0.03, "BUY") == Decimal("1.02")
    assert option_commission(0, 1.0, "SELL") == Decimal("0.00")


def test_stock_commission() -> None:
    assert stock_commission(100, 50.0) == Decimal("1.00")
    assert stock_commission(1000, 50.0) == Decimal("5.00")
    assert stock_commission(100, 50.0, assignment=True) == Decimal("0.00")
