"""The simulated market: seeded underlying paths on a clock, option chains, skewed quotes.

Deterministic for (seed, universe, anchor): the anchor is the last NYSE close at or before the
clock's time when the model is built. From there:

- Underlyings follow a correlated GBM (SPX as the market factor, stocks with a beta-scaled
  loading) on a 15-second grid inside regular sessions, linearly interpolated between grid
  points, with an overnight gap at every session open. Stocks find the gap in pre-market
  trading (04:00 ET, reached in full 30 minutes before the open, as IBKR's pre-market quotes
  would show it to a 09:28 Stage 2); indices and SPY stay at the close until the open.
  XSP = SPX/10, SPY tracks SPX/10, VIX and VIX3M move inversely to SPX (VIX more).
- History before the anchor is generated backwards (daily bars, VIX and VIX3M included).
- Options: per-expiry raw SVI with put skew, Black-Scholes on it, spreads in IV terms
  rounded to the tick grid, volume/open interest peaking near ATM and 25 delta.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import random
from array import array
from dataclasses import dataclass, field
from decimal import Decimal

from engine.market.blackscholes import bs_greeks
from engine.market.calendar import ET, MarketCalendar, to_et
from engine.market.clock import Clock
from engine.sim.universe import SymbolSpec, default_universe

UTC = dt.UTC
RATE = 0.045
STEP_SECONDS = 15
YEAR_SECONDS = 365.0 * 86400.0
HISTORY_SESSIONS = 800
INDEX_SYMBOLS = frozenset({"SPX", "XSP"})
DERIVED = frozenset({"XSP", "SPY", "VIX", "VIX3M"})
SPY_RATIO = 0.0998
#: Stocks' pre-market: the overnight gap appears from 04:00 ET and is complete this long
#: before the open.
PREMARKET_START = dt.time(4, 0)
PREMARKET_FULL = dt.timedelta(minutes=30)
VIX_SENS = 6.0
VIX3M_SENS = 3.0
_EPOCH = dt.date(2000, 1, 1)
_VIX_FLOOR = math.log(9.0)
_VIX3M_FLOOR = math.log(10.5)


# --------------------------------------------------------------------------------------
# value types
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnderlyingQuote:
    """Top of book of an underlying. Indexes have no bid/ask (None) and no volume."""

    bid: float | None
    ask: float | None
    last: float
    close: float
    volume: int
    time: dt.datetime


@dataclass(frozen=True)
class ChainParams:
    """One reqSecDefOptParams row: `strikes` is the union over all expirations."""

    exchange: str
    trading_class: str
    multiplier: int
    expirations: list[str]
    strikes: list[float]
    underlying_con_id: int = 0


@dataclass(frozen=True)
class OptionSpec:
    """One listed option. `last_trade_time` is when it expires/settles (UTC): the session
    close on expiry day, or 09:30 ET for AM-settled SPX monthlies, whose trading ends at the
    prior business day's close (`trading_ends`)."""

    con_id: int
    symbol: str
    trading_class: str
    expiry: str
    strike: float
    right: str
    multiplier: int
    exchange: str
    underlying_con_id: int
    local_symbol: str
    last_trade_time: dt.datetime
    trading_ends: dt.datetime = field(default=dt.datetime(2000, 1, 1, tzinfo=UTC))
    settlement: str = "PM"  # "AM" (SPX monthlies: opening print) or "PM"
    style: str = "A"  # "A" American (stocks/ETFs) or "E" European (SPX/XSP)
    sec_type: str = "OPT"
    currency: str = "USD"

    @property
    def expiry_date(self) -> dt.date:
        return dt.date(int(self.expiry[:4]), int(self.expiry[4:6]), int(self.expiry[6:8]))

    @property
    def cash_settled(self) -> bool:
        return self.style == "E"


@dataclass(frozen=True)
class OptionQuote:
    """A snapshot of one option. bid/ask None means no quote on that side (IBKR sends -1)."""

    bid: float | None
    ask: float | None
    bid_size: int
    ask_size: int
    last: float | None
    volume: int
    open_interest: int
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float
    model_price: float
    time: dt.datetime = field(default=dt.datetime(2000, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Bar:
    """One daily bar (session date)."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _h01(*parts: object) -> float:
    """A deterministic uniform in [0, 1) from the parts (stable across runs)."""
    key = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64


def _ymd(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _parse_ymd(s: str) -> dt.date:
    return dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def _third_friday(year: int, month: int) -> dt.date:
    d = dt.date(year, month, 1)
    offset = (4 - d.weekday()) % 7
    return d + dt.timedelta(days=offset + 14)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    m = month - 1 + n
    return year + m // 12, m % 12 + 1


def _round_tick(x: float, tick: float, mode: str) -> float:
    n = x / tick
    if mode == "down":
        k = math.floor(n + 1e-9)
    elif mode == "up":
        k = math.ceil(n - 1e-9)
    else:
        k = round(n)
    return round(k * tick, 4)


def _grid(center: float, lo: float, hi: float, step: float) -> list[float]:
    start = math.ceil((center * (1 - lo)) / step - 1e-9) * step
    end = math.floor((center * (1 + hi)) / step + 1e-9) * step
    out: list[float] = []
    k = start
    while k <= end + 1e-9:
        if k > 0:
            out.append(round(k, 4))
        k += step
    return out


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
class _Path:
    """Session grid after the anchor: per symbol, log-levels on the 15 s grid per session."""

    def __init__(self, opens: list[dt.datetime], closes: list[dt.datetime]) -> None:
        self.opens = opens
        self.closes = closes
        self.steps = [
            max(1, int((c - o).total_seconds()) // STEP_SECONDS)
            for o, c in zip(opens, closes, strict=True)
        ]


class MarketModel:
    """The simulated market (see module docstring). Thread-compatible, not thread-safe."""

    def __init__(
        self,
        seed: int,
        clock: Clock,
        calendar: MarketCalendar | None = None,
        universe: list[SymbolSpec] | None = None,
        *,
        anchor: dt.datetime | None = None,
    ) -> None:
        self.seed = int(seed)
        self.clock = clock
        self.calendar = calendar or MarketCalendar()
        specs = list(universe) if universe is not None else default_universe()
        names = {s.symbol for s in specs}
        for needed in default_universe():
            if (needed.is_index or needed.symbol == "SPY") and needed.symbol not in names:
                specs.append(needed)
        self._specs = specs
        self._by_symbol: dict[str, SymbolSpec] = {s.symbol: s for s in specs}
        self._by_con: dict[int, SymbolSpec] = {s.con_id: s for s in specs}
        self._uidx: dict[str, int] = {s.symbol: i + 10 for i, s in enumerate(specs)}
        self._idx_sym: dict[int, str] = {v: k for k, v in self._uidx.items()}
        cal = self.calendar
        start = anchor or clock.now()
        self.anchor_close: dt.datetime = cal.previous_close(start)
        self.anchor_session: dt.date = to_et(self.anchor_close).date()
        first = cal.next_session(self.anchor_session)
        fwd = cal.sessions_between(first, first + dt.timedelta(days=3 * 366))
        self._sessions: list[dt.date] = fwd
        self._path = _Path([cal.session_open(d) for d in fwd], [cal.session_close(d) for d in fwd])
        hist_first = self.anchor_session - dt.timedelta(days=int(HISTORY_SESSIONS * 1.5) + 10)
        hist = cal.sessions_between(hist_first, self.anchor_session)[-HISTORY_SESSIONS:]
        self._hist_dates: list[dt.date] = hist
        self._hist_index = {d: i for i, d in enumerate(hist)}
        # per-symbol anchor level (log)
        self._anchor_log: dict[str, float] = {}
        for s in specs:
            f = 1.0 + 0.06 * (_h01(self.seed, "anchor", s.symbol) - 0.5)
            if s.symbol in ("VIX",):
                f = 1.0 + 0.08 * (_h01(self.seed, "anchor", s.symbol) - 0.5)
            self._anchor_log[s.symbol] = math.log(s.base_price * f)
        if "VIX" in self._anchor_log and "VIX3M" in self._anchor_log:
            ratio = 1.06 + 0.06 * _h01(self.seed, "term")
            self._anchor_log["VIX3M"] = self._anchor_log["VIX"] + math.log(ratio)
        # lazy caches
        self._z_mkt: list[array[float]] = []
        self._gap_mkt: list[float] = []
        self._levels: dict[str, list[array[float]]] = {}
        self._hist: dict[str, list[Bar]] = {}
        self._overrides: dict[str, list[tuple[dt.datetime, float]]] = {}
        self._version = 0
        self._expiry_cache: dict[tuple[str, str, dt.date], list[str]] = {}
        self._strike_cache: dict[tuple[str, str, str], list[float]] = {}
        self._params_cache: dict[tuple[str, dt.date], list[ChainParams]] = {}
        self._quote_cache: dict[int, tuple[tuple[int, int], OptionQuote]] = {}
        self._option_cache: dict[tuple[str, str, str, float, str], OptionSpec | None] = {}

    # ---- universe ---------------------------------------------------------------------
    def specs(self) -> list[SymbolSpec]:
        return list(self._specs)

    def find(self, symbol: str, sec_type: str | None = None) -> SymbolSpec | None:
        s = self._by_symbol.get(symbol.upper())
        if s is None or (sec_type and s.sec_type != sec_type.upper()):
            return None
        return s

    def by_con_id(self, con_id: int) -> SymbolSpec | OptionSpec | None:
        s = self._by_con.get(con_id)
        if s is not None:
            return s
        return self._decode_option(con_id)

    def stocks(self) -> list[SymbolSpec]:
        return [s for s in self._specs if s.sec_type == "STK" and s.symbol != "SPY"]

    def now(self) -> dt.datetime:
        return self.clock.now()

    def is_open(self, t: dt.datetime | None = None) -> bool:
        return self.calendar.is_open(t or self.clock.now())

    # ---- paths ------------------------------------------------------------------------
    def _rng(self, *parts: object) -> random.Random:
        return random.Random("|".join(str(p) for p in (self.seed, *parts)))

    def _ensure_market(self, i: int) -> None:
        while len(self._z_mkt) <= i:
            k = len(self._z_mkt)
            rng = self._rng("mkt", self._sessions[k].isoformat())
            n = self._path.steps[k]
            self._z_mkt.append(array("d", (rng.gauss(0.0, 1.0) for _ in range(n))))
            self._gap_mkt.append(rng.gauss(0.0, 1.0))

    def _session_levels(self, symbol: str, i: int) -> array[float]:
        """Log-levels of a driver symbol (SPX, a stock, or the VIX noise "~VIX") in session i:
        element 0 is the open after the gap, element n the close."""
        lv = self._levels.setdefault(symbol, [])
        while len(lv) <= i:
            k = len(lv)
            self._ensure_market(k)
            prev = lv[k - 1][-1] if k else self._anchor_log_driver(symbol)
            n = self._path.steps[k]
            if symbol == "~VIX":
                sig, rho = 0.5, 0.0
            elif symbol == "SPX":
                sig, rho = self._by_symbol["SPX"].vol, 1.0
            else:
                spec = self._by_symbol[symbol]
                sig, rho = spec.vol, min(0.8, 0.45 * spec.beta)
            rng = self._rng("path", symbol, self._sessions[k].isoformat())
            step_sd = sig * math.sqrt(0.8 / 252.0 * STEP_SECONDS / 23400.0)
            gap_sd = sig * math.sqrt(0.2 / 252.0)
            idio = math.sqrt(max(0.0, 1.0 - rho * rho))
            zm = self._z_mkt[k]
            level = prev + gap_sd * (rho * self._gap_mkt[k] + idio * rng.gauss(0.0, 1.0))
            out = array("d", [level])
            for j in range(n):
                level += step_sd * (rho * zm[j] + idio * rng.gauss(0.0, 1.0))
                out.append(level)
            lv.append(out)
        return lv[i]

    def _anchor_log_driver(self, symbol: str) -> float:
        return 0.0 if symbol == "~VIX" else self._anchor_log[symbol]

    def _locate(self, t: dt.datetime) -> tuple[int, float]:
        """(session index, fractional step) for t; index -1 means before the first session
        after the anchor; a closed market maps to the last session's final step."""
        p = self._path
        i = bisect.bisect_right(p.opens, t) - 1
        if i < 0:
            return -1, 0.0
        if i >= len(p.opens):
            i = len(p.opens) - 1
        if t >= p.closes[i]:
            return i, float(p.steps[i])
        pos = (t - p.opens[i]).total_seconds() / STEP_SECONDS
        return i, min(pos, float(p.steps[i]))

    def _driver_log(self, symbol: str, i: int, pos: float) -> float:
        if i < 0:
            return self._anchor_log_driver(symbol)
        lv = self._session_levels(symbol, i)
        j = int(pos)
        if j >= len(lv) - 1:
            return lv[-1]
        w = pos - j
        return lv[j] * (1.0 - w) + lv[j + 1] * w

    def _offset(self, symbol: str, t: dt.datetime) -> float:
        ov = self._overrides.get(symbol)
        if not ov:
            return 0.0
        return sum(d for (ts, d) in ov if ts <= t)

    def _log_price(self, symbol: str, t: dt.datetime) -> float:
        if t <= self.anchor_close:
            return math.log(self._hist_close(symbol, t))
        i, pos = self._locate(t)
        if symbol in ("SPX", "XSP", "SPY"):
            lg = self._driver_log("SPX", i, pos) + self._offset("SPX", t)
            if symbol == "XSP":
                lg += math.log(0.1)
            elif symbol == "SPY":
                lg += math.log(SPY_RATIO) + self._offset("SPY", t)
            return lg
        if symbol in ("VIX", "VIX3M"):
            r_spx = (
                self._driver_log("SPX", i, pos) + self._offset("SPX", t) - self._anchor_log["SPX"]
            )
            noise = self._driver_log("~VIX", i, pos)
            if symbol == "VIX":
                lg = self._anchor_log["VIX"] - VIX_SENS * r_spx + noise + self._offset("VIX", t)
                return max(lg, _VIX_FLOOR)
            lg = (
                self._anchor_log["VIX3M"]
                - VIX3M_SENS * r_spx
                + 0.5 * noise
                + self._offset("VIX3M", t)
            )
            return max(lg, _VIX3M_FLOOR)
        return self._stock_log(symbol, t, i, pos) + self._offset(symbol, t)

    def _stock_log(self, symbol: str, t: dt.datetime, i: int, pos: float) -> float:
        """A stock's path level: inside a session the grid; between sessions the last close,
        moving toward the next open's gapped level through the pre-market."""
        base = self._driver_log(symbol, i, pos)
        p = self._path
        j = i + 1
        if j >= len(p.opens) or (i >= 0 and pos < p.steps[i]):
            return base
        w = self._premarket_weight(t, p.opens[j])
        if w <= 0.0:
            return base
        return base + w * (self._session_levels(symbol, j)[0] - base)

    @staticmethod
    def _premarket_weight(t: dt.datetime, opens: dt.datetime) -> float:
        """0 before 04:00 ET of the open's day, rising linearly to 1 at PREMARKET_FULL
        before the open."""
        start = dt.datetime.combine(to_et(opens).date(), PREMARKET_START, ET)
        full = opens - PREMARKET_FULL
        if t <= start:
            return 0.0
        if t >= full or full <= start:
            return 1.0
        return (t - start).total_seconds() / (full - start).total_seconds()

    def price(self, symbol: str, t: dt.datetime | None = None) -> float:
        """The underlying's level at t (default: now)."""
        symbol = symbol.upper()
        if symbol not in self._by_symbol:
            raise KeyError(symbol)
        t = t or self.clock.now()
        p = math.exp(self._log_price(symbol, t))
        return round(p, 4)

    def set_price(self, symbol: str, price: float) -> None:
        """Force the level from now on (the path continues from there). XSP/SPY move SPX."""
        symbol = symbol.upper()
        now = self.clock.now()
        if symbol in ("XSP", "SPY"):
            scale = 0.1 if symbol == "XSP" else SPY_RATIO
            symbol, price = "SPX", price / scale
        cur = self.price(symbol, now)
        self._push(symbol, now, math.log(price) - math.log(cur))

    def apply_gap(self, symbol: str, pct: float) -> None:
        """Move the level by pct (e.g. -0.08 for an 8% drop) now."""
        symbol = symbol.upper()
        if symbol in ("XSP", "SPY"):
            symbol = "SPX"
        self._push(symbol, self.clock.now(), math.log1p(pct))

    def apply_market_gap(self, pct: float) -> None:
        """A market-wide move: SPX by pct, each stock by beta × pct (VIX follows SPX)."""
        self.apply_gap("SPX", pct)
        for s in self.stocks():
            self.apply_gap(s.symbol, max(-0.95, s.beta * pct))

    def _push(self, symbol: str, t: dt.datetime, dlog: float) -> None:
        self._overrides.setdefault(symbol, []).append((t, dlog))
        self._version += 1
        self._quote_cache.clear()

    # ---- history ----------------------------------------------------------------------
    def _history(self, symbol: str) -> list[Bar]:
        bars = self._hist.get(symbol)
        if bars is not None:
            return bars
        n = len(self._hist_dates)
        if symbol in ("XSP", "SPY"):
            scale = 0.1 if symbol == "XSP" else SPY_RATIO
            bars = [
                Bar(b.date, b.open * scale, b.high * scale, b.low * scale, b.close * scale, 0)
                for b in self._history("SPX")
            ]
            if symbol == "SPY":
                bars = [
                    Bar(b.date, b.open, b.high, b.low, b.close, self._daily_volume("SPY", b.date))
                    for b in bars
                ]
            bars = [self._round_bar(b) for b in bars]
            self._hist[symbol] = bars
            return bars
        spec = self._by_symbol[symbol]
        rng = self._rng("hist", symbol)
        mkt = self._rng("hist", "SPX")
        mrets = [mkt.gauss(0.0, 1.0) for _ in range(n)]
        if symbol in ("VIX", "VIX3M"):
            spx = self._history("SPX")
            sens = VIX_SENS if symbol == "VIX" else VIX3M_SENS
            phi = 0.97 if symbol == "VIX" else 0.985
            x = [0.0] * n
            for k in range(1, n):
                r = math.log(spx[k].close / spx[k - 1].close)
                x[k] = phi * x[k - 1] - sens * r + 0.03 * rng.gauss(0.0, 1.0)
            end = self._anchor_log[symbol]
            closes = [math.exp(end + x[k] - x[-1]) for k in range(n)]
        else:
            sig = spec.vol
            rho = 1.0 if symbol == "SPX" else min(0.8, 0.45 * spec.beta)
            idio = math.sqrt(max(0.0, 1.0 - rho * rho))
            drift = 0.10 / 252.0
            rets = [
                drift + sig / math.sqrt(252.0) * (rho * mrets[k] + idio * rng.gauss(0.0, 1.0))
                for k in range(n)
            ]
            closes = [0.0] * n
            lg = self._anchor_log[symbol]
            for k in range(n - 1, -1, -1):
                closes[k] = math.exp(lg)
                lg -= rets[k]
        bars = []
        dsig = spec.vol / math.sqrt(252.0)
        for k, d in enumerate(self._hist_dates):
            c = closes[k]
            prev = closes[k - 1] if k else c
            o = prev * math.exp(0.3 * dsig * rng.gauss(0.0, 1.0))
            hi = max(o, c) * math.exp(abs(rng.gauss(0.0, 0.5 * dsig)))
            lo = min(o, c) * math.exp(-abs(rng.gauss(0.0, 0.5 * dsig)))
            vol = self._daily_volume(symbol, d)
            bars.append(self._round_bar(Bar(d, o, hi, lo, c, vol)))
        self._hist[symbol] = bars
        return bars

    def _round_bar(self, b: Bar) -> Bar:
        return Bar(
            b.date, round(b.open, 2), round(b.high, 2), round(b.low, 2), round(b.close, 2), b.volume
        )

    def _daily_volume(self, symbol: str, d: dt.date) -> int:
        spec = self._by_symbol[symbol]
        if spec.avg_volume <= 0:
            return 0
        u = _h01(self.seed, "vol", symbol, d.isoformat())
        return int(spec.avg_volume * math.exp(0.35 * (u - 0.5) * 2))

    def _hist_close(self, symbol: str, t: dt.datetime) -> float:
        bars = self._history(symbol)
        d = to_et(t).date()
        i = bisect.bisect_right(self._hist_dates, d) - 1
        if i < 0:
            return bars[0].open
        b = bars[i]
        if b.date == d and self.calendar.is_session(d):
            o, c = self.calendar.session_open(d), self.calendar.session_close(d)
            if t < o:
                return bars[i - 1].close if i else b.open
            if t < c:
                w = (t - o).total_seconds() / (c - o).total_seconds()
                return b.open + (b.close - b.open) * w
        return b.close

    def historical_bars(self, symbol: str, end: dt.date, days: int) -> list[Bar]:
        """Daily bars for the last `days` sessions up to `end` (inclusive); a session still
        in progress at the clock's time gives a partial bar; future sessions none."""
        symbol = symbol.upper()
        if symbol not in self._by_symbol:
            raise KeyError(symbol)
        now = self.clock.now()
        out: list[Bar] = []
        hist = self._history(symbol)
        cut = bisect.bisect_right(self._hist_dates, end)
        out.extend(hist[:cut])
        if end > self.anchor_session:
            for i, d in enumerate(self._sessions):
                if d > end or self._path.opens[i] > now:
                    break
                out.append(self._session_bar(symbol, i, now))
        return out[-days:] if days > 0 else []

    def _session_bar(self, symbol: str, i: int, now: dt.datetime) -> Bar:
        p = self._path
        o_t, c_t = p.opens[i], min(p.closes[i], now)
        n = p.steps[i]
        last = int(min(n, (c_t - o_t).total_seconds() / STEP_SECONDS))
        stride = max(1, last // 60)
        pts = [o_t + dt.timedelta(seconds=j * STEP_SECONDS) for j in range(0, last + 1, stride)]
        pts.append(c_t)
        vals = [self.price(symbol, t) for t in pts]
        frac = min(1.0, (c_t - o_t).total_seconds() / max(1.0, (p.closes[i] - o_t).total_seconds()))
        vol = int(self._daily_volume(symbol, self._sessions[i]) * frac)
        return self._round_bar(Bar(self._sessions[i], vals[0], max(vals), min(vals), vals[-1], vol))

    def prior_close(self, symbol: str, t: dt.datetime | None = None) -> float:
        """Close of the session before the latest session that opened at or before t."""
        t = t or self.clock.now()
        cal = self.calendar
        last = cal.last_session_on_or_before(t)
        prev = cal.previous_session(last)
        return round(self.price(symbol, cal.session_close(prev)), 2)

    def settlement_price(self, symbol: str, on: dt.date) -> float:
        """Close of that session; for "SPX"-class (AM) settlement use `opening_price`."""
        return round(self.price(symbol, self.calendar.session_close(on)), 2)

    def opening_price(self, symbol: str, on: dt.date) -> float:
        """The opening print of that session (SPX AM settlement)."""
        t = self.calendar.session_open(on)
        return round(self.price(symbol, t + dt.timedelta(microseconds=1)), 2)

    def option_settlement(self, opt: OptionSpec) -> float:
        """Settlement level of the underlying for this option's expiry."""
        if opt.settlement == "AM":
            return self.opening_price(opt.symbol, opt.expiry_date)
        return self.settlement_price(opt.symbol, opt.expiry_date)

    # ---- quotes -----------------------------------------------------------------------
    def underlying_quote(self, symbol: str) -> UnderlyingQuote:
        symbol = symbol.upper()
        spec = self._by_symbol[symbol]
        now = self.clock.now()
        px = self.price(symbol, now)
        last = round(px, 2)
        close = self.prior_close(symbol, now)
        if spec.is_index:
            return UnderlyingQuote(None, None, last, close, 0, now)
        half = max(0.005, px * 0.00005)
        bid = math.floor((px - half) * 100 + 1e-9) / 100
        ask = max(math.ceil((px + half) * 100 - 1e-9) / 100, bid + 0.01)
        bid, ask = round(bid, 2), round(ask, 2)
        return UnderlyingQuote(bid, ask, last, close, self._volume_so_far(symbol, now), now)

    def _volume_so_far(self, symbol: str, t: dt.datetime) -> int:
        cal = self.calendar
        d = cal.last_session_on_or_before(t)
        o, c = cal.session_open(d), cal.session_close(d)
        frac = min(1.0, max(0.0, (t - o).total_seconds() / (c - o).total_seconds()))
        # U-shaped intraday volume: heavier at the open and the close
        shaped = 0.5 * frac + 0.5 * (1 - (1 - frac) ** 3) * 0.5 + 0.25 * frac**3
        return int(self._daily_volume(symbol, d) * min(1.0, shaped))

    # ---- chains -----------------------------------------------------------------------
    def _today(self) -> dt.date:
        return to_et(self.clock.now()).date()

    def _classes(self, symbol: str) -> list[str]:
        if symbol == "SPX":
            return ["SPX", "SPXW"]
        if symbol in ("VIX", "VIX3M"):
            return []
        return [symbol]

    def _holiday_adjust(self, d: dt.date) -> dt.date | None:
        cal = self.calendar
        if cal.is_session(d):
            return d
        p = cal.previous_session(d)
        return p if (d - p).days <= 3 else None

    def _expirations(self, symbol: str, cls: str, today: dt.date) -> list[str]:
        key = (symbol, cls, today)
        hit = self._expiry_cache.get(key)
        if hit is not None:
            return hit
        cal = self.calendar
        out: set[dt.date] = set()
        monthly_n = 4
        # monthlies (3rd Friday)
        for n in range(0, monthly_n + 1):
            y, m = _add_months(today.year, today.month, n)
            d = self._holiday_adjust(_third_friday(y, m))
            if d is not None and d >= today:
                out.add(d)
        if cls != "SPX":
            # Friday weeklies for ~6 weeks
            fri = today + dt.timedelta(days=(4 - today.weekday()) % 7)
            for w in range(7):
                d = self._holiday_adjust(fri + dt.timedelta(weeks=w))
                if d is not None and d >= today:
                    out.add(d)
        if cls in ("SPXW", "XSP", "SPY"):
            sess = cal.sessions_between(today, today + dt.timedelta(days=40))[:15]
            out.update(sess)
            # end of month for the next 3 months
            for n in range(0, 4):
                y, m = _add_months(today.year, today.month, n + 1)
                d = cal.session_on_or_before(dt.date(y, m, 1) - dt.timedelta(days=1))
                if d >= today:
                    out.add(d)
        res = sorted(_ymd(d) for d in out)
        self._expiry_cache[key] = res
        return res

    def _grid_params(self, symbol: str, level: float) -> tuple[float, float]:
        if symbol == "SPX":
            return 5.0, 25.0
        if symbol in ("XSP", "SPY"):
            return 1.0, 5.0
        if level < 25:
            return 0.5, 1.0
        if level < 100:
            return 1.0, 2.5
        if level < 250:
            return 2.5, 5.0
        return 5.0, 10.0

    def expiry_strikes(self, symbol: str, trading_class: str, expiry: str) -> list[float]:
        """The strikes actually listed for this expiry (a subset of the chain's union)."""
        symbol = symbol.upper()
        key = (symbol, trading_class, expiry)
        hit = self._strike_cache.get(key)
        if hit is not None:
            return hit
        if symbol not in self._by_symbol or trading_class not in self._classes(symbol):
            return []
        center = math.exp(self._anchor_log[symbol])
        fine, coarse = self._grid_params(symbol, center)
        dte = (_parse_ymd(expiry) - self.anchor_session).days
        index = symbol in ("SPX", "XSP", "SPY")
        if dte <= 14:
            near, wide = (0.06, 0.25) if index else (0.12, 0.35)
            strikes = set(_grid(center, near, near, fine)) | set(
                _grid(center, wide, wide * 0.6, coarse)
            )
        elif dte <= 60:
            near, wide = (0.03, 0.35) if index else (0.05, 0.45)
            strikes = set(_grid(center, near, near, fine)) | set(
                _grid(center, wide, wide * 0.6, coarse)
            )
        else:
            wide = 0.45 if index else 0.6
            strikes = set(_grid(center, wide, wide * 0.7, coarse * 2))
        res = sorted(strikes)
        self._strike_cache[key] = res
        return res

    def option_params(self, symbol: str) -> list[ChainParams]:
        """reqSecDefOptParams rows: SMART and CBOE, one per trading class."""
        symbol = symbol.upper()
        spec = self._by_symbol.get(symbol)
        if spec is None:
            return []
        today = self._today()
        hit = self._params_cache.get((symbol, today))
        if hit is not None:
            return list(hit)
        out: list[ChainParams] = []
        for exch in ("SMART", "CBOE"):
            for cls in self._classes(symbol):
                exps = self._expirations(symbol, cls, today)
                strikes: set[float] = set()
                for e in exps:
                    strikes.update(self.expiry_strikes(symbol, cls, e))
                out.append(
                    ChainParams(
                        exch, cls, spec.multiplier, list(exps), sorted(strikes), spec.con_id
                    )
                )
        self._params_cache[(symbol, today)] = out
        return list(out)

    def _valid_expiry(self, symbol: str, cls: str, d: dt.date) -> bool:
        today = self._today()
        if d >= today:
            return _ymd(d) in self._expirations(symbol, cls, today)
        if not self.calendar.is_session(d):
            return False
        if cls in ("SPXW", "XSP", "SPY"):
            return True
        # past stock/SPX expiries: a (holiday-adjusted) Friday
        nxt = d + dt.timedelta(days=1)
        return d.weekday() == 4 or (d.weekday() == 3 and not self.calendar.is_session(nxt))

    def option(
        self, symbol: str, trading_class: str, expiry: str, strike: float, right: str
    ) -> OptionSpec | None:
        """The listed contract, or None when that strike/expiry/class isn't listed."""
        symbol = symbol.upper()
        right = right.upper()[:1]
        key = (symbol, trading_class, expiry, round(float(strike), 4), right)
        if key in self._option_cache:
            return self._option_cache[key]
        res = self._build_option(symbol, trading_class, expiry, float(strike), right)
        if res is not None:
            self._option_cache[key] = res
        return res

    def _build_option(
        self, symbol: str, cls: str, expiry: str, strike: float, right: str
    ) -> OptionSpec | None:
        spec = self._by_symbol.get(symbol)
        if spec is None or right not in ("P", "C") or cls not in self._classes(symbol):
            return None
        try:
            d = _parse_ymd(expiry)
        except ValueError:
            return None
        if not self._valid_expiry(symbol, cls, d):
            return None
        strikes = self.expiry_strikes(symbol, cls, expiry)
        i = bisect.bisect_left(strikes, strike - 1e-6)
        if i >= len(strikes) or abs(strikes[i] - strike) > 1e-6:
            return None
        strike = strikes[i]
        cal = self.calendar
        am = cls == "SPX"
        if am:
            last_trade = dt.datetime.combine(d, dt.time(9, 30), ET).astimezone(UTC)
            ends = cal.session_close(cal.previous_session(d))
        else:
            last_trade = cal.session_close(d)
            ends = last_trade
        cls_idx = self._classes(symbol).index(cls)
        con_id = self._encode(symbol, d, strike, right, cls_idx)
        local = f"{cls:<6}{d.strftime('%y%m%d')}{right}{round(strike * 1000):08d}"
        return OptionSpec(
            con_id=con_id,
            symbol=symbol,
            trading_class=cls,
            expiry=expiry,
            strike=strike,
            right=right,
            multiplier=spec.multiplier,
            exchange="SMART",
            underlying_con_id=spec.con_id,
            local_symbol=local,
            last_trade_time=last_trade,
            trading_ends=ends,
            settlement="AM" if am else "PM",
            style="E" if symbol in INDEX_SYMBOLS else "A",
        )

    def find_options(
        self,
        symbol: str,
        trading_class: str | None = None,
        expiry: str | None = None,
        strike: float | None = None,
        right: str | None = None,
    ) -> list[OptionSpec]:
        """Every listed contract matching the given fields (reqContractDetails with blanks).
        `expiry` may be YYYYMMDD or a YYYYMM month prefix; `right` "P"/"C" or None for both."""
        symbol = symbol.upper()
        if symbol not in self._by_symbol:
            return []
        classes = [trading_class] if trading_class else self._classes(symbol)
        rights = [right.upper()[:1]] if right else ["C", "P"]
        today = self._today()
        out: list[OptionSpec] = []
        for cls in classes:
            if cls not in self._classes(symbol):
                continue
            exps = self._expirations(symbol, cls, today)
            if expiry:
                exps = [e for e in exps if e.startswith(expiry)]
                if len(expiry) == 8 and expiry not in exps:
                    exps = [expiry]
            for e in exps:
                ks = self.expiry_strikes(symbol, cls, e)
                if strike is not None:
                    ks = [k for k in ks if abs(k - strike) < 1e-6]
                for k in ks:
                    for r in rights:
                        o = self.option(symbol, cls, e, k, r)
                        if o is not None:
                            out.append(o)
        return out

    def _encode(self, symbol: str, d: dt.date, strike: float, right: str, cls_idx: int) -> int:
        """uidx(2) days-since-2000(5) strike-cents(7) class/right(1): < 1e15, stable."""
        days = (d - _EPOCH).days
        cents = round(strike * 100)
        tail = 1 + (0 if right == "P" else 1) + 2 * cls_idx
        return ((self._uidx[symbol] * 100_000 + days) * 10_000_000 + cents) * 10 + tail

    def _decode_option(self, con_id: int) -> OptionSpec | None:
        if con_id < 10**14:
            return None
        tail = con_id % 10
        rest = con_id // 10
        cents = rest % 10_000_000
        rest //= 10_000_000
        days = rest % 100_000
        uidx = rest // 100_000
        symbol = self._idx_sym.get(uidx)
        if symbol is None or not 1 <= tail <= 4:
            return None
        classes = self._classes(symbol)
        cls_idx = (tail - 1) // 2
        if cls_idx >= len(classes):
            return None
        right = "P" if (tail - 1) % 2 == 0 else "C"
        d = _EPOCH + dt.timedelta(days=days)
        return self.option(symbol, classes[cls_idx], _ymd(d), cents / 100.0, right)

    # ---- volatility surface -----------------------------------------------------------
    def atm_vol(self, symbol: str, T: float, t: dt.datetime | None = None) -> float:
        """ATM implied vol for maturity T (years). Indexes follow VIX/VIX3M; stocks their own
        vol scaled by the VIX level relative to the anchor."""
        t = t or self.clock.now()
        vix = math.exp(self._log_price("VIX", t)) / 100.0
        vix3m = math.exp(self._log_price("VIX3M", t)) / 100.0
        if symbol in ("SPX", "XSP", "SPY"):
            t1, t2 = 30 / 365, 90 / 365
            w1, w2 = vix * vix * t1, vix3m * vix3m * t2
            if t1 >= T:
                var = vix * vix
            elif t2 <= T:
                var = vix3m * vix3m
            else:
                var = (w1 + (w2 - w1) * (T - t1) / (t2 - t1)) / T
            return 0.88 * math.sqrt(var)
        spec = self._by_symbol[symbol]
        vix0 = math.exp(self._anchor_log["VIX"]) / 100.0
        scale = (vix / vix0) ** (0.7 * min(1.5, spec.beta))
        term = 1.0 + 0.04 * (1 - math.exp(-T * 4))
        return spec.vol * scale * term

    def implied_vol_at(
        self,
        symbol: str,
        strike: float,
        T: float,
        t: dt.datetime | None = None,
        und: float | None = None,
    ) -> float:
        """Raw-SVI smile: w(k) = a + b[ρ(k−m) + √((k−m)² + s²)], k = ln(K/F), IV = √(w/T)."""
        t = t or self.clock.now()
        spec = self._by_symbol[symbol]
        S = und if und is not None else self.price(symbol, t)
        T = max(T, 60.0 / YEAR_SECONDS)
        F = S * math.exp((RATE - spec.div_yield) * T)
        sig = self.atm_vol(symbol, T, t)
        k = math.log(strike / F)
        rho = -0.7
        skew = 0.8 if symbol in ("SPX", "XSP", "SPY") else 0.45
        slope = skew * math.sqrt((30 / 365) / T)
        slope = min(slope, 6.0)
        b = 2.0 * sig * T * slope / abs(rho)
        s = 2.0 * sig * math.sqrt(T)
        a = sig * sig * T - b * s
        w = a + b * (rho * k + math.sqrt(k * k + s * s))
        w = max(w, 0.25 * sig * sig * T)
        return math.sqrt(w / T)

    # ---- option quotes ----------------------------------------------------------------
    def tick_size(self, opt: OptionSpec, price: float) -> Decimal:
        """Minimum tick: SPX 0.05 below $3 else 0.10; SPY 0.01; XSP and stocks 0.01 below $3
        else 0.05 (penny pilot)."""
        if opt.symbol == "SPX":
            return Decimal("0.05") if price < 3.0 else Decimal("0.10")
        if opt.symbol == "SPY":
            return Decimal("0.01")
        return Decimal("0.01") if price < 3.0 else Decimal("0.05")

    def time_to_expiry(self, opt: OptionSpec, t: dt.datetime | None = None) -> float:
        t = t or self.clock.now()
        return max(0.0, (opt.last_trade_time - t).total_seconds() / YEAR_SECONDS)

    def option_quote(self, opt: OptionSpec, t: dt.datetime | None = None) -> OptionQuote:
        """The option's quote at t (default now), cached per (contract, 15 s step)."""
        t = t or self.clock.now()
        i, pos = self._locate(t) if t > self.anchor_close else (-2, 0.0)
        stamp = (
            (i, int(pos))
            if (i >= 0 and pos < self._path.steps[i])
            else (i, -int(t.timestamp() // 60))
        )
        hit = self._quote_cache.get(opt.con_id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        q = self._compute_quote(opt, t)
        if len(self._quote_cache) > 200_000:
            self._quote_cache.clear()
        self._quote_cache[opt.con_id] = (stamp, q)
        return q

    def _compute_quote(self, opt: OptionSpec, t: dt.datetime) -> OptionQuote:
        spec = self._by_symbol[opt.symbol]
        S = self.price(opt.symbol, t)
        T = self.time_to_expiry(opt, t)
        q = spec.div_yield
        T_eff = max(T, 60.0 / YEAR_SECONDS)
        iv = self.implied_vol_at(opt.symbol, opt.strike, T_eff, t, und=S)
        g = bs_greeks(S, opt.strike, T_eff, RATE, q, iv, opt.right)
        model = g.price
        if T <= 0:  # expired: worth its intrinsic value at the settlement print
            x = self.option_settlement(opt)
            model = max(0.0, opt.strike - x) if opt.right == "P" else max(0.0, x - opt.strike)
        tick = float(self.tick_size(opt, model))
        # half-spread in IV terms: wider out of the money and for cheap contracts
        k = abs(math.log(opt.strike / S)) / max(1e-6, iv * math.sqrt(T_eff))
        index = opt.symbol in ("SPX", "SPY", "XSP")
        hs_iv = (0.0004 if index else 0.002) * (1.0 + 0.5 * k)
        vega_unit = g.vega * 100.0
        if opt.symbol == "SPX":
            floor = 0.05 + 0.004 * model
        elif index:
            floor = 0.01 + 0.003 * model
        else:
            floor = 0.01 + 0.008 * model
        half = max(0.5 * tick, vega_unit * hs_iv, floor)
        bid: float | None
        ask: float | None
        if model < 0.5 * tick:
            bid = None
            ask = float(self.tick_size(opt, 0.0)) if T > 0 else None
        else:
            b = _round_tick(model - half, float(self.tick_size(opt, model - half)), "down")
            a = _round_tick(model + half, float(self.tick_size(opt, model + half)), "up")
            bid = b if b > 0 else None
            ask = max(a, (b if b > 0 else 0.0) + float(self.tick_size(opt, a)))
            ask = round(ask, 4)
        oi, daily_vol = self._activity(opt, g.delta, T)
        vol_now = int(daily_vol * self._session_fraction(t))
        size_u = _h01(self.seed, "size", opt.con_id, t.timestamp() // STEP_SECONDS)
        base_size = 10 if opt.symbol == "SPX" else 25
        liq = 1.0 + 3.0 * math.exp(-(((abs(g.delta) - 0.3) / 0.2) ** 2))
        bid_size = int(1 + base_size * liq * size_u) if bid is not None else 0
        ask_size = int(1 + base_size * liq * (1 - size_u)) if ask is not None else 0
        last = _round_tick(model, tick, "near") if vol_now > 0 and model >= tick else None
        return OptionQuote(
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            last=last,
            volume=vol_now,
            open_interest=oi,
            iv=iv,
            delta=g.delta,
            gamma=g.gamma,
            vega=g.vega,
            theta=g.theta,
            und_price=S,
            model_price=model,
            time=t,
        )

    def _session_fraction(self, t: dt.datetime) -> float:
        cal = self.calendar
        d = cal.last_session_on_or_before(t)
        o, c = cal.session_open(d), cal.session_close(d)
        return min(1.0, max(0.0, (t - o).total_seconds() / (c - o).total_seconds()))

    def _activity(self, opt: OptionSpec, delta: float, T: float) -> tuple[int, int]:
        """(open interest, full-day volume): peaks near ATM and 25 delta, round strikes."""
        spec = self._by_symbol[opt.symbol]
        ad = abs(delta)
        shape = (
            math.exp(-(((ad - 0.5) / 0.18) ** 2))
            + 0.8 * math.exp(-(((ad - 0.25) / 0.08) ** 2))
            + 0.02
        )
        if opt.symbol == "SPX":
            base, rounds = 4000.0, (100.0, 50.0, 25.0)
        elif opt.symbol in ("SPY", "XSP"):
            base, rounds = 6000.0 if opt.symbol == "SPY" else 800.0, (10.0, 5.0, 1.0)
        else:
            base = 200.0 + spec.avg_volume / 5000.0
            rounds = (10.0, 5.0, 1.0)
        mult = 1.0
        for r, m in zip(rounds, (3.0, 2.0, 1.3), strict=True):
            if abs(opt.strike / r - round(opt.strike / r)) < 1e-9:
                mult = m
                break
        dte = max(T * 365.0, 0.0)
        near = 1.5 if dte < 10 else (1.0 if dte < 40 else 0.6)
        u = _h01(self.seed, "oi", opt.con_id)
        oi = int(base * shape * mult * (0.5 + u) * (1.0 + dte / 30.0) ** 0.5)
        vol = int(base * 0.4 * shape * mult * near * (0.5 + _h01(self.seed, "v", opt.con_id)))
        return oi, vol

    # ---- scanner ----------------------------------------------------------------------
    def scan(
        self,
        code: str,
        rows: int = 50,
        above_price: float | None = None,
        above_volume: int | None = None,
    ) -> list[str]:
        """Rank stocks for an IBKR scan code (HIGH_OPT_IMP_VOLAT, MOST_ACTIVE,
        TOP_PERC_GAIN, TOP_PERC_LOSE, HOT_BY_VOLUME, OPT_VOLUME_MOST_ACTIVE,
        HIGH_OPT_IMP_VOLAT_OVER_HIST); unknown codes rank by volume."""
        now = self.clock.now()
        rows_out: list[tuple[float, str]] = []
        for s in self._specs:
            if s.sec_type != "STK":
                continue
            px = self.price(s.symbol, now)
            vol = self._volume_so_far(s.symbol, now)
            day_vol = self._daily_volume(s.symbol, self.calendar.last_session_on_or_before(now))
            if above_price is not None and px <= above_price:
                continue
            if above_volume is not None and max(vol, day_vol) <= above_volume:
                continue
            c = code.upper()
            if c in ("HIGH_OPT_IMP_VOLAT", "HIGH_OPT_IMP_VOLAT_OVER_HIST"):
                iv = self.atm_vol(s.symbol, 30 / 365, now)
                key = iv / s.vol if c.endswith("OVER_HIST") else iv
            elif c in ("TOP_PERC_GAIN", "TOP_PERC_LOSE"):
                chg = px / self.prior_close(s.symbol, now) - 1.0
                key = chg if c == "TOP_PERC_GAIN" else -chg
            elif c == "OPT_VOLUME_MOST_ACTIVE":
                key = day_vol * s.vol
            else:
                key = float(max(vol, day_vol))
            rows_out.append((key, s.symbol))
        rows_out.sort(key=lambda r: (-r[0], r[1]))
        return [sym for _, sym in rows_out[: max(0, rows)]]
