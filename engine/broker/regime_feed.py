"""The market regime read from IBKR: VIX, VIX3M and SPX daily closes -> `RegimeReading`.

Three historical-data requests per reading (VIX and VIX3M over a few days, SPX over a year for
its 200-day average), kept for `ttl` so the console, the status line and a scan share one
reading; concurrent callers wait for the same refresh (IBKR refuses identical historical
requests within 15 s). The classification itself is pure (`engine.market.regime`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from engine.market.regime import RegimeReading, reading_from_closes

log = logging.getLogger(__name__)

DEFAULT_TTL = dt.timedelta(minutes=15)


class RegimeFeed:
    """`await feed.current()` gives a reading no older than the TTL (or None, with
    `feed.error` saying why); `feed.latest` is the last one read, for code that must not
    wait on IBKR (the status line, a trade being booked)."""

    def __init__(
        self,
        services: Any,
        now: Callable[[], dt.datetime],
        *,
        ttl: dt.timedelta = DEFAULT_TTL,
    ) -> None:
        self.services = services
        self.now = now
        self.ttl = ttl
        self.latest: RegimeReading | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()

    def fresh(self, max_age: dt.timedelta | None = None) -> RegimeReading | None:
        r = self.latest
        if r is None or r.age(self.now()) > (max_age or self.ttl):
            return None
        return r

    async def current(
        self, max_age: dt.timedelta | None = None, *, force: bool = False
    ) -> RegimeReading | None:
        """A reading no older than `max_age` (default the TTL), read from IBKR when needed;
        None when IBKR could not give one (`error` has the reason, `latest` stays)."""
        if not force and (r := self.fresh(max_age)) is not None:
            return r
        async with self._lock:
            if not force and (r := self.fresh(max_age)) is not None:
                return r  # another caller refreshed it while this one waited
            try:
                reading = await self._read()
            except Exception as exc:
                text = getattr(getattr(exc, "reason", None), "text", None) or str(exc)
                self.error = text or type(exc).__name__
                log.warning("market regime not read: %s", self.error)
                return None
            if reading is None:
                self.error = "IBKR returned no VIX close"
                return None
            self.latest, self.error = reading, None
            return reading

    async def _read(self) -> RegimeReading | None:
        """VIX is required; VIX3M or SPX failing leaves the term structure or the trend
        "unknown" (logged), which the guard treats as missing data when it needs them."""
        parts = await asyncio.gather(
            self._closes("VIX", "5 D"),
            self._closes("VIX3M", "5 D"),
            self._closes("SPX", "1 Y"),
            return_exceptions=True,
        )
        if isinstance(parts[0], BaseException):
            raise parts[0]
        closes: list[list[float]] = []
        for sym, got in zip(("VIX", "VIX3M", "SPX"), parts, strict=True):
            if isinstance(got, BaseException):
                log.warning("regime: no %s closes: %s", sym, got)
                closes.append([])
            else:
                closes.append(got)
        return reading_from_closes(closes[0], closes[1], closes[2], self.now())

    async def _closes(self, symbol: str, duration: str) -> list[float]:
        und = await self.services.qualify_underlying(symbol)
        return [c for _d, c in await self.services.daily_closes(und, duration)]

    def label_today(self) -> str | None:
        """The last reading's label when it is under a day old (stored with each new trade);
        no request to IBKR."""
        r = self.fresh(dt.timedelta(days=1))
        return None if r is None else r.label

    def status(self) -> dict[str, Any]:
        """What the status line shows: the last reading (any age) and the last error."""
        r = self.latest
        return {
            "reading": r.as_dict() if r is not None else None,
            "age_s": int(r.age(self.now()).total_seconds()) if r is not None else None,
            "error": self.error,
        }
