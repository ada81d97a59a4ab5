"""Black-Scholes against the published vector and independent references."""

from __future__ import annotations

import math

import pytest

from engine.market.blackscholes import bs_greeks, bs_price, implied_vol, strike_for_delta


def test_published_put_delta_vector() -> None:
    g = bs_greeks(50, 50, 0.25, 0.10, 0.0, 0.30, "P")
    assert g.delta == pytest.approx(-0.4045, abs=5e-5)
    assert bs_greeks(50, 50, 0.25, 0.10, 0.0, 0.30, "C").delta == pytest.approx(0.5955, abs=5e-5)


@pytest.mark.parametrize(
    ("S", "K", "T", "r", "q", "sigma"),
    [
        (50, 50, 0.25, 0.10, 0.0, 0.30),
        (6000, 5700, 7 / 365, 0.045, 0.013, 0.16),
        (23, 20, 1.2, 0.03, 0.05, 0.55),
    ],
)
def test_put_call_parity(S: float, K: float, T: float, r: float, q: float, sigma: float) -> None:
    c = bs_price(S, K, T, r, q, sigma, "C")
    p = bs_price(S, K, T, r, q, sigma, "P")
    assert c - p == pytest.approx(S * math.exp(-q * T) - K * math.exp(-r * T), abs=1e-9)


@pytest.mark.parametrize("right", ["P", "C"])
def test_greeks_match_finite_differences(right: str) -> None:
    S, K, T, r, q, sig = 101.0, 95.0, 0.3, 0.045, 0.01, 0.32
    g = bs_greeks(S, K, T, r, q, sig, right)
    h = 1e-3
    f = lambda s=S, t=T, v=sig: bs_price(s, K, t, r, q, v, right)  # noqa: E731
    assert g.price == pytest.approx(f())
    assert g.delta == pytest.approx((f(s=S + h) - f(s=S - h)) / (2 * h), abs=1e-6)
    assert g.gamma == pytest.approx((f(s=S + h) - 2 * f() + f(s=S - h)) / h**2, rel=1e-3)
    # vega per 1 vol point, theta per calendar day (price change as one day passes)
    assert g.vega == pytest.approx((f(v=sig + h) - f(v=sig - h)) / (2 * h) / 100, rel=1e-6)
    assert g.theta == pytest.approx(-(f(t=T + h) - f(t=T - h)) / (2 * h) / 365, rel=1e-5)


def test_expired_and_zero_vol_give_intrinsic() -> None:
    assert bs_price(90, 100, 0.0, 0.05, 0, 0.3, "P") == pytest.approx(10.0)
    g = bs_greeks(110, 100, 0.0, 0.05, 0, 0.3, "P")
    assert g.price == 0.0 and g.delta == 0.0
    with pytest.raises(ValueError):
        bs_price(100, 100, 0.1, 0.05, 0, 0.3, "X")


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.8, 2.0])
def test_implied_vol_round_trip(sigma: float) -> None:
    for right in ("P", "C"):
        p = bs_price(100, 90, 0.5, 0.045, 0.0, sigma, right)
        assert implied_vol(p, 100, 90, 0.5, 0.045, 0.0, right) == pytest.approx(sigma, abs=1e-6)


def test_implied_vol_outside_bounds_is_none() -> None:
    assert implied_vol(0.0, 100, 90, 0.5, 0.045, 0.0, "P") is None
    assert implied_vol(5.0, 100, 110, 0.5, 0.045, 0.0, "P") is None  # below intrinsic
    assert implied_vol(1.0, 100, 90, 0.0, 0.045, 0.0, "P") is None


def test_strike_for_delta_constant_vol() -> None:
    k = strike_for_delta(50, 0.25, 0.10, 0.0, 0.4045, "P", 0.30)
    assert k == pytest.approx(50.0, abs=0.01)


@pytest.mark.parametrize("target", [0.05, 0.16, 0.30])
def test_strike_for_delta_with_skew_round_trip(target: float) -> None:
    S, T, r, q = 6000.0, 14 / 365, 0.045, 0.013

    def skew(k: float) -> float:
        return 0.14 + 0.9 * max(0.0, math.log(S / k)) ** 1.0

    k = strike_for_delta(S, T, r, q, target, "P", skew)
    assert k < S
    assert -bs_greeks(S, k, T, r, q, skew(k), "P").delta == pytest.approx(target, abs=1e-6)
    kc = strike_for_delta(S, T, r, q, target, "C", 0.14)
    assert bs_greeks(S, kc, T, r, q, 0.14, "C").delta == pytest.approx(target, abs=1e-6)
