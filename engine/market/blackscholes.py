"""Black-Scholes-Merton prices, greeks (IBKR conventions), implied vol and strike-for-delta.

Greeks follow IBKR's display units: vega per 1 vol point (0.01), theta per calendar day.
Pure floats, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

_N = NormalDist()
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_MIN_T = 1e-8
_MIN_SIGMA = 1e-6


def norm_cdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def _is_put(right: str) -> bool:
    r = right.upper()
    if r in ("P", "PUT"):
        return True
    if r in ("C", "CALL"):
        return False
    raise ValueError(f"right must be 'P' or 'C', got {right!r}")


@dataclass(frozen=True)
class Greeks:
    """Greeks of one option: delta, gamma, vega (per 0.01 vol), theta (per calendar day), price."""

    delta: float
    gamma: float
    vega: float
    theta: float
    price: float


def _d1_d2(S: float, K: float, T: float, r: float, q: float, sigma: float) -> tuple[float, float]:
    sq = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / sq
    return d1, d1 - sq


def _intrinsic(S: float, K: float, T: float, r: float, q: float, put: bool) -> float:
    fwd_s = S * math.exp(-q * T)
    pv_k = K * math.exp(-r * T)
    return max(0.0, pv_k - fwd_s) if put else max(0.0, fwd_s - pv_k)


def bs_price(S: float, K: float, T: float, r: float, q: float, sigma: float, right: str) -> float:
    """European option price. At T<=0 or sigma<=0 returns the (discounted) intrinsic value."""
    put = _is_put(right)
    if S <= 0 or K <= 0:
        raise ValueError("S and K must be positive")
    if T <= _MIN_T or sigma <= _MIN_SIGMA:
        return _intrinsic(S, K, max(T, 0.0), r, q, put)
    d1, d2 = _d1_d2(S, K, T, r, q, sigma)
    dq = math.exp(-q * T)
    dr = math.exp(-r * T)
    if put:
        return K * dr * norm_cdf(-d2) - S * dq * norm_cdf(-d1)
    return S * dq * norm_cdf(d1) - K * dr * norm_cdf(d2)


def bs_greeks(S: float, K: float, T: float, r: float, q: float, sigma: float, right: str) -> Greeks:
    """Price and greeks. Vega per 1 vol point (0.01), theta per calendar day (/365)."""
    put = _is_put(right)
    if T <= _MIN_T or sigma <= _MIN_SIGMA:
        price = _intrinsic(S, K, max(T, 0.0), r, q, put)
        itm = (K > S) if put else (S > K)
        delta = (-1.0 if put else 1.0) if itm else 0.0
        return Greeks(delta=delta, gamma=0.0, vega=0.0, theta=0.0, price=price)
    d1, d2 = _d1_d2(S, K, T, r, q, sigma)
    sqt = math.sqrt(T)
    dq = math.exp(-q * T)
    dr = math.exp(-r * T)
    pdf = norm_pdf(d1)
    gamma = dq * pdf / (S * sigma * sqt)
    vega = S * dq * pdf * sqt
    common = -S * dq * pdf * sigma / (2.0 * sqt)
    if put:
        price = K * dr * norm_cdf(-d2) - S * dq * norm_cdf(-d1)
        delta = dq * (norm_cdf(d1) - 1.0)
        theta = common + r * K * dr * norm_cdf(-d2) - q * S * dq * norm_cdf(-d1)
    else:
        price = S * dq * norm_cdf(d1) - K * dr * norm_cdf(d2)
        delta = dq * norm_cdf(d1)
        theta = common - r * K * dr * norm_cdf(d2) + q * S * dq * norm_cdf(d1)
    return Greeks(delta=delta, gamma=gamma, vega=vega / 100.0, theta=theta / 365.0, price=price)


def implied_vol(
    price: float,
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    right: str,
    *,
    lo: float = 1e-4,
    hi: float = 5.0,
    tol: float = 1e-8,
) -> float | None:
    """Implied volatility by safeguarded Newton/bisection; None when price is outside the
    no-arbitrage range (at/below intrinsic or above the upper bound) or T <= 0."""
    put = _is_put(right)
    if T <= _MIN_T or price <= 0 or S <= 0 or K <= 0:
        return None
    intrinsic = _intrinsic(S, K, T, r, q, put)
    upper = K * math.exp(-r * T) if put else S * math.exp(-q * T)
    if price <= intrinsic + 1e-12 or price >= upper:
        return None
    a, b = lo, hi
    if bs_price(S, K, T, r, q, b, right) < price:
        return None
    sigma = 0.3
    for _ in range(100):
        p = bs_price(S, K, T, r, q, sigma, right)
        diff = p - price
        if abs(diff) < tol:
            return sigma
        if diff > 0:
            b = sigma
        else:
            a = sigma
        d1, _ = _d1_d2(S, K, T, r, q, sigma)
        vega = S * math.exp(-q * T) * norm_pdf(d1) * math.sqrt(T)
        nxt = sigma - diff / vega if vega > 1e-12 else -1.0
        sigma = nxt if a < nxt < b else 0.5 * (a + b)
        if b - a < 1e-12:
            break
    return sigma


def strike_for_delta(
    S: float,
    T: float,
    r: float,
    q: float,
    target_abs_delta: float,
    right: str,
    vol_fn: Callable[[float], float] | float,
) -> float:
    """Strike whose |delta| equals target_abs_delta, with sigma = vol_fn(K) (or a constant).

    Closed form K = S·exp(−d1·σ√T + (r − q + σ²/2)T) per fixed sigma, iterated to a fixed
    point because sigma depends on K (skew).
    """
    put = _is_put(right)
    if not 0.0 < target_abs_delta < 1.0:
        raise ValueError("target_abs_delta must be in (0, 1)")
    if T <= _MIN_T:
        return S
    dq = math.exp(-q * T)
    if target_abs_delta >= dq:
        raise ValueError("target delta unreachable with this dividend yield")

    def sigma_at(k: float) -> float:
        return float(vol_fn(k)) if callable(vol_fn) else float(vol_fn)

    # put: N(d1) - 1 = -delta/dq; call: N(d1) = delta/dq
    p_d1 = 1.0 - target_abs_delta / dq if put else target_abs_delta / dq
    d1 = _N.inv_cdf(p_d1)
    k = S
    for _ in range(100):
        sigma = max(sigma_at(k), _MIN_SIGMA)
        sqt = sigma * math.sqrt(T)
        k_new = S * math.exp(-d1 * sqt + (r - q + 0.5 * sigma * sigma) * T)
        if abs(k_new - k) < 1e-9 * S:
            return k_new
        k = 0.5 * (k + k_new) if callable(vol_fn) else k_new
    return k
