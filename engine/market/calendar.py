"""NYSE trading calendar (exchange_calendars "XNYS"), loaded lazily and cached.

The pandas-backed calendar is read once into plain sorted lists and dicts, so every query
afterwards is a bisect in pure Python (cheap enough to call per tick).
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
UTC = dt.UTC

_FIRST = dt.date(2010, 1, 1)
_LAST = dt.date(2035, 12, 31)
_REGULAR_CLOSE = dt.time(16, 0)


def to_et(t: dt.datetime) -> dt.datetime:
    """A timezone-aware time converted to America/New_York."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.astimezone(ET)


def parse_utc(v: object) -> dt.datetime | None:
    """An ISO timestamp as an aware datetime (naive ones are UTC, as stored); None if bad."""
    try:
        t = dt.datetime.fromisoformat(str(v))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def et_and_local(t: dt.datetime, local_zone: dt.tzinfo | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    """A time in New York ('11-25 09:40:14 ET'), followed by the local clock ('01:40 AEDT',
    with the weekday when the local date is another) when the local zone's clock differs."""
    et = to_et(t)
    out = f"{et:{fmt}} ET"
    if local_zone is None:
        return out
    loc = t.astimezone(local_zone)
    if loc.utcoffset() == et.utcoffset():
        return out
    day = f"{loc:%a} " if loc.date() != et.date() else ""
    return f"{out} · {day}{loc:%H:%M} {loc.tzname() or 'local'}"


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.astimezone(UTC)


class _Schedule:
    """Plain-Python copy of the XNYS schedule."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        import warnings

        import exchange_calendars as xc  # heavy (pandas): only on first use

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas deprecation noise inside the library
            cal = xc.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())
            sched = cal.schedule
        self.dates: list[dt.date] = []
        self.opens: list[dt.datetime] = []
        self.closes: list[dt.datetime] = []
        for idx, op, cl in zip(sched.index, sched["open"], sched["close"], strict=True):
            self.dates.append(idx.date())
            self.opens.append(op.to_pydatetime().astimezone(UTC))
            self.closes.append(cl.to_pydatetime().astimezone(UTC))
        self.index: dict[dt.date, int] = {d: i for i, d in enumerate(self.dates)}
        self.first = first
        self.last = last


_LOCK = threading.Lock()
_CACHE: dict[tuple[dt.date, dt.date], _Schedule] = {}


def _schedule(first: dt.date, last: dt.date) -> _Schedule:
    key = (first, last)
    with _LOCK:
        sched = _CACHE.get(key)
        if sched is None:
            sched = _Schedule(first, last)
            _CACHE[key] = sched
        return sched


class MarketCalendar:
    """NYSE sessions between 2010 and 2035. Dates are exchange (ET) dates; times are UTC."""

    def __init__(self, first: dt.date = _FIRST, last: dt.date = _LAST) -> None:
        self._first = first
        self._last = last
        self._s: _Schedule | None = None

    @property
    def _sched(self) -> _Schedule:
        if self._s is None:
            self._s = _schedule(self._first, self._last)
        return self._s

    def _check(self, d: dt.date) -> None:
        if not self._first <= d <= self._last:
            raise ValueError(f"{d} outside the calendar range {self._first}..{self._last}")

    # sessions -------------------------------------------------------------------------
    def is_session(self, d: dt.date) -> bool:
        self._check(d)
        return d in self._sched.index

    def _idx(self, d: dt.date) -> int:
        self._check(d)
        i = self._sched.index.get(d)
        if i is None:
            raise ValueError(f"{d} is not an NYSE session")
        return i

    def session_open(self, d: dt.date) -> dt.datetime:
        return self._sched.opens[self._idx(d)]

    def session_close(self, d: dt.date) -> dt.datetime:
        return self._sched.closes[self._idx(d)]

    def early_close(self, d: dt.date) -> bool:
        if not self.is_session(d):
            return False
        return to_et(self.session_close(d)).time() < _REGULAR_CLOSE

    def holidays(self, year: int) -> list[dt.date]:
        """Weekdays of `year` with no session (holidays and ad hoc closures)."""
        out: list[dt.date] = []
        d = dt.date(year, 1, 1)
        while d.year == year:
            if d.weekday() < 5 and not self.is_session(d):
                out.append(d)
            d += dt.timedelta(days=1)
        return out

    def sessions_between(self, a: dt.date, b: dt.date) -> list[dt.date]:
        """Sessions with a <= date <= b."""
        s = self._sched
        lo = bisect.bisect_left(s.dates, a)
        hi = bisect.bisect_right(s.dates, b)
        return s.dates[lo:hi]

    def next_session(self, d: dt.date) -> dt.date:
        """First session strictly after d."""
        s = self._sched
        i = bisect.bisect_right(s.dates, d)
        if i >= len(s.dates):
            raise ValueError("beyond calendar range")
        return s.dates[i]

    def previous_session(self, d: dt.date) -> dt.date:
        """Last session strictly before d."""
        s = self._sched
        i = bisect.bisect_left(s.dates, d) - 1
        if i < 0:
            raise ValueError("before calendar range")
        return s.dates[i]

    def session_on_or_before(self, d: dt.date) -> dt.date:
        return d if self.is_session(d) else self.previous_session(d)

    # instants -------------------------------------------------------------------------
    def is_open(self, t: dt.datetime) -> bool:
        """True during a regular session [open, close)."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.opens, t) - 1
        return i >= 0 and t < s.closes[i]

    def next_open(self, t: dt.datetime) -> dt.datetime:
        """First session open strictly after t."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.opens, t)
        if i >= len(s.opens):
            raise ValueError("beyond calendar range")
        return s.opens[i]

    def next_close(self, t: dt.datetime) -> dt.datetime:
        """First session close strictly after t."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.closes, t)
        if i >= len(s.closes):
            raise ValueError("beyond calendar range")
        return s.closes[i]

    def previous_close(self, t: dt.datetime) -> dt.datetime:
        """Last session close at or before t."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.closes, t) - 1
        if i < 0:
            raise ValueError("before calendar range")
        return s.closes[i]

    def previous_open(self, t: dt.datetime) -> dt.datetime:
        """Last session open at or before t."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.opens, t) - 1
        if i < 0:
            raise ValueError("before calendar range")
        return s.opens[i]

    def session_of(self, t: dt.datetime) -> dt.date | None:
        """The session date t falls in (open..close), else None."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.opens, t) - 1
        if i >= 0 and t < s.closes[i]:
            return s.dates[i]
        return None

    def last_session_on_or_before(self, t: dt.datetime) -> dt.date:
        """The latest session whose open is at or before t."""
        t = _utc(t)
        s = self._sched
        i = bisect.bisect_right(s.opens, t) - 1
        if i < 0:
            raise ValueError("before calendar range")
        return s.dates[i]
