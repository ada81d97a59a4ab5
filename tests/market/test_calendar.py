"""NYSE calendar: 2026 holidays, early closes, next open across weekends and holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.market.calendar import ET, MarketCalendar, to_et

UTC = dt.UTC


@pytest.fixture(scope="module")
def cal() -> MarketCalendar:
    return MarketCalendar()


def et(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=ET).astimezone(UTC)


def test_2026_holidays(cal: MarketCalendar) -> None:
    expected = [
        (1, 1),
        (1, 19),
        (2, 16),
        (4, 3),
        (5, 25),
        (6, 19),
        (7, 3),
        (9, 7),
        (11, 26),
        (12, 25),
    ]
    assert cal.holidays(2026) == [dt.date(2026, m, d) for m, d in expected]
    assert not cal.is_session(dt.date(2026, 11, 26))
    assert not cal.is_session(dt.date(2026, 11, 28))  # Saturday
    assert cal.is_session(dt.date(2026, 11, 27))


@pytest.mark.parametrize("day", [dt.date(2026, 11, 27), dt.date(2026, 12, 24)])
def test_early_closes(cal: MarketCalendar, day: dt.date) -> None:
    assert cal.early_close(day)
    assert to_et(cal.session_close(day)).time() == dt.time(13, 0)
    assert to_et(cal.session_open(day)).time() == dt.time(9, 30)


def test_regular_day(cal: MarketCalendar) -> None:
    d = dt.date(2026, 11, 24)
    assert not cal.early_close(d)
    assert cal.session_open(d) == dt.datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert cal.session_close(d) == dt.datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert cal.is_open(et(2026, 11, 24, 10))
    assert not cal.is_open(et(2026, 11, 24, 16))
    assert cal.is_open(et(2026, 11, 24, 15, 59))
    assert not cal.is_open(et(2026, 11, 27, 13, 30))  # after the early close


def test_next_open_across_weekend_and_holiday(cal: MarketCalendar) -> None:
    # Friday evening -> Monday open
    assert cal.next_open(et(2026, 11, 20, 17)) == et(2026, 11, 23, 9, 30)
    # Wednesday evening before Thanksgiving -> Friday (early close day)
    assert cal.next_open(et(2026, 11, 25, 17)) == et(2026, 11, 27, 9, 30)
    assert cal.next_close(et(2026, 11, 25, 17)) == et(2026, 11, 27, 13)
    # Friday 2026-07-03 is a holiday: Thursday evening -> Monday 07-06
    assert cal.next_open(et(2026, 7, 2, 17)) == et(2026, 7, 6, 9, 30)
    assert cal.previous_close(et(2026, 11, 30, 8)) == et(2026, 11, 27, 13)
    # during a session the next open is tomorrow's
    assert cal.next_open(et(2026, 11, 24, 10)) == et(2026, 11, 25, 9, 30)


def test_sessions_between(cal: MarketCalendar) -> None:
    s = cal.sessions_between(dt.date(2026, 11, 23), dt.date(2026, 11, 30))
    assert s == [dt.date(2026, 11, d) for d in (23, 24, 25, 27, 30)]
    assert cal.next_session(dt.date(2026, 11, 25)) == dt.date(2026, 11, 27)
    assert cal.previous_session(dt.date(2026, 11, 27)) == dt.date(2026, 11, 25)


def test_dst_change(cal: MarketCalendar) -> None:
    # US DST starts 2026-03-08: open moves from 14:30 UTC to 13:30 UTC
    assert cal.session_open(dt.date(2026, 3, 6)).hour == 14
    assert cal.session_open(dt.date(2026, 3, 9)).hour == 13


def test_naive_datetime_rejected(cal: MarketCalendar) -> None:
    with pytest.raises(ValueError):
        cal.is_open(dt.datetime(2026, 11, 24, 15))
