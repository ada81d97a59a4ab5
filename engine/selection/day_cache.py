"""What does not change within an exchange day, for the scanner: qualified underlyings,
option parameters, each expiry's listed strikes and a strike's contracts across expiries.

`DayCache` lives in the engine; `rows()` and `restore()` turn it into (kind, key, JSON) rows
and back, so the store can keep it (engine/store/day_cache.py) and an engine started again on
the same day scans like a rescan. A row that does not decode is skipped (the scan then asks
IBKR for it again)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from engine.domain import OptionChainInfo, OptionRef, Underlying

log = logging.getLogger(__name__)

UNDERLYING, CHAINS, STRIKES, STRIKE_ROWS = "underlying", "chains", "strikes", "strike_rows"


def _refs(value: Any) -> list[OptionRef]:
    return [OptionRef(**r) for r in value]


def _chain(d: dict[str, Any]) -> OptionChainInfo:
    return OptionChainInfo(
        symbol=d["symbol"],
        underlying_con_id=int(d["underlying_con_id"]),
        trading_class=d["trading_class"],
        multiplier=int(d["multiplier"]),
        expirations=tuple(d["expirations"]),
        strikes=tuple(float(k) for k in d["strikes"]),
    )


class DayCache:
    """The scanner's cache for one ET date; cleared when the date changes."""

    def __init__(self) -> None:
        self.day: dt.date | None = None
        self.underlyings: dict[str, Underlying] = {}
        self.chains: dict[str, list[OptionChainInfo]] = {}
        self.strikes: dict[tuple[str, str, str], list[OptionRef]] = {}
        #: (symbol, trading class, strike) -> that strike's contracts across expiries
        self.strike_rows: dict[tuple[str, str, float], list[OptionRef]] = {}
        #: (kind, key) the store holds already (`restore`d, or `mark_kept` after a save)
        self._kept: set[tuple[str, str]] = set()

    def roll(self, day: dt.date) -> None:
        if day != self.day:
            self.day = day
            self.underlyings.clear()
            self.chains.clear()
            self.strikes.clear()
            self.strike_rows.clear()
            self._kept.clear()

    def rows(self, only_new: bool = False) -> list[tuple[str, str, str]]:
        """(kind, key, value JSON) of every entry; with `only_new`, only those the store does
        not hold yet."""
        out: list[tuple[str, str, str]] = []

        def add(kind: str, key: str, value: Any) -> None:
            if only_new and (kind, key) in self._kept:
                return
            out.append((kind, key, json.dumps(value, separators=(",", ":"))))

        for sym, und in self.underlyings.items():
            add(UNDERLYING, sym, dataclasses.asdict(und))
        for sym, chains in self.chains.items():
            add(CHAINS, sym, [dataclasses.asdict(c) for c in chains])
        for (sym, expiry, cls), refs in self.strikes.items():
            add(STRIKES, f"{sym}|{expiry}|{cls}", [dataclasses.asdict(r) for r in refs])
        for (sym, cls, strike), refs in self.strike_rows.items():
            add(STRIKE_ROWS, f"{sym}|{cls}|{strike!r}", [dataclasses.asdict(r) for r in refs])
        return out

    def mark_kept(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """These rows are in the store now (`rows(only_new=True)` leaves them out)."""
        self._kept.update((kind, key) for kind, key, _ in rows)

    def restore(self, day: dt.date, rows: Iterable[tuple[str, str, str]]) -> int:
        """Start `day` with these rows (as `rows()` wrote them); returns how many were used."""
        self.roll(day)
        used = 0
        for kind, key, raw in rows:
            try:
                value = json.loads(raw)
                if kind == UNDERLYING:
                    self.underlyings[key] = Underlying(**value)
                elif kind == CHAINS:
                    self.chains[key] = [_chain(c) for c in value]
                elif kind == STRIKES:
                    sym, expiry, cls = key.split("|")
                    self.strikes[(sym, expiry, cls)] = _refs(value)
                elif kind == STRIKE_ROWS:
                    sym, cls, strike = key.split("|")
                    self.strike_rows[(sym, cls, float(strike))] = _refs(value)
                else:
                    continue
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("day cache row %s %s skipped: %s", kind, key, exc)
                continue
            self._kept.add((kind, key))
            used += 1
        return used
