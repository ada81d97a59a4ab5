"""Regime classification and readings from daily closes."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.market.regime import (
    classify,
    reading_from_closes,
    sma,
    term_structure,
    vix_bucket,
)


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


T = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def test_reading_from_closes_uses_the_latest_closes_and_a_200_day_average() -> None:
    spx = [5000.0 + i for i in range(250)]  # rising: the last close is above its average
    r = reading_from_closes([18.0, 0.0, 16.5], [19.0, 19.5], spx, T)
    assert r is not None
    assert (r.vix, r.vix3m, r.spx) == (16.5, 19.5, 5249.0)
    assert r.spx_sma200 == pytest.approx(sum(spx[-200:]) / 200)
    assert (r.regime.vix_bucket, r.regime.term, r.regime.trend) == ("normal", "contango", "up")
    d = r.as_dict()
    assert d["vix_ratio"] == round(16.5 / 19.5, 4) and d["as_of"] == T.isoformat()
    assert r.label == "VIX 16.5 normal, contango, trend up"


def test_reading_without_enough_history_leaves_the_signal_unknown() -> None:
    r = reading_from_closes([31.0], [], [5000.0] * 50, T)
    assert r is not None
    assert (r.regime.term, r.regime.trend, r.spx_sma200) == ("unknown", "unknown", None)
    assert reading_from_closes([], [19.0], [5000.0] * 250, T) is None
