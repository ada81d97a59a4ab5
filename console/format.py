"""Pure formatting helpers for the console (numbers, money, times, countdowns)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
DASH = "-"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` columns, ending in "…" when it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def num(v: Any, places: int = 2) -> str:
    """A number with fixed places, or a dash when missing."""
    if v is None or v == "":
        return DASH
    try:
        return f"{float(v):,.{places}f}"
    except (TypeError, ValueError):
        return str(v)


def money(v: Any, places: int = 0) -> str:
    """Dollars with thousands separators, sign first: -$1,234."""
    if v is None or v == "":
        return DASH
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    sign = "-" if f < 0 else ""
    return f"{sign}${abs(f):,.{places}f}"


def short_money(v: Any) -> str:
    """Dollars in few characters for narrow terminals: $1,313 / $188.8k / $1.25M."""
    full = money(v)
    try:
        a = abs(float(v))
    except (TypeError, ValueError):
        return full  # DASH or the text as given
    sign = "-" if full.startswith("-") else ""
    if a >= 999_950:
        return f"{sign}${a / 1_000_000:.2f}M"
    if a >= 10_000:
        return f"{sign}${a / 1_000:.1f}k"
    return full


def pct(v: Any, places: int = 1) -> str:
    """A percentage value (already in percent units)."""
    if v is None or v == "":
        return DASH
    try:
        return f"{float(v):.{places}f}%"
    except (TypeError, ValueError):
        return str(v)


def integer(v: Any) -> str:
    if v is None or v == "":
        return DASH
    try:
        return f"{int(float(v)):,}"
    except (TypeError, ValueError):
        return str(v)


def expiry(v: Any) -> str:
    """YYYYMMDD or ISO date -> 'Nov27'."""
    if not v:
        return DASH
    s = str(v).replace("-", "")[:8]
    try:
        d = dt.datetime.strptime(s, "%Y%m%d").date()
    except ValueError:
        return str(v)
    return d.strftime("%b%d")


def parse_time(v: Any) -> dt.datetime | None:
    """An ISO timestamp (or datetime) as an aware UTC datetime; None when absent or bad."""
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        t = v
    else:
        try:
            t = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def countdown(seconds: float) -> str:
    """Seconds -> '2d 03:04:05' / '03:04:05'."""
    s = max(0, int(seconds))
    days, rem = divmod(s, 86_400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    body = f"{h:02d}:{m:02d}:{sec:02d}"
    return f"{days}d {body}" if days else body


def clock(t: dt.datetime, zone: dt.tzinfo, label: str) -> str:
    """'09:25:00 ET' style clock text."""
    return f"{t.astimezone(zone):%H:%M:%S} {label}"


def stamp(t: dt.datetime, local_zone: dt.tzinfo | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    """A time in ET ('11-25 09:40:14 ET'), followed by the local clock ('01:40 AEDT', with the
    weekday when the local date is another) when the local zone's clock differs from ET's."""
    from engine.market.calendar import et_and_local

    return et_and_local(t, local_zone, fmt)


def zone_label(zone: dt.tzinfo, t: dt.datetime) -> str:
    name = t.astimezone(zone).tzname() or "local"
    return name
