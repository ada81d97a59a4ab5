"""Regime classification."""

from __future__ import annotations

import pytest

from engine.market.regime import classify, sma, term_structure, vix_bucket


@pytest.mark.parametrize(
    ("vix", "bucket"),
    [
        (10, "very calm"),
        (12, "normal"),
        (19.9, "normal"),
        (20, "elevated"),
        (35, "stress"),
        (41, "panic"),
    ],
)
def test_vix_buckets(vix: float, bucket: str) -> None:
    assert vix_bucket(vix) == bucket


def test_term_and_trend() -> None:
    assert term_structure(16, 18) == "contango"
    assert term_structure(30, 25) == "backwardation"
    assert term_structure(16, None) == "unknown"
    r = classify(32.0, 28.0, 5500.0, 5800.0)
    assert (r.vix_bucket, r.term, r.trend) == ("stress", "backwardation", "down")
    assert "backwardation" in r.label
    calm = classify(15.0, 17.0, 6000.0, 5800.0)
    assert (calm.vix_bucket, calm.term, calm.trend) == ("normal", "contango", "up")


def test_sma() -> None:
    assert sma([1.0, 2.0, 3.0, 4.0], 2) == 3.5
    assert sma([1.0], 2) is None
    with pytest.raises(ValueError):
        sma([1.0], 0)
