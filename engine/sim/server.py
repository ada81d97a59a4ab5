"""`SimGateway`: the simulated IBKR gateway's TWS API server (server version 178).

One asyncio server on 127.0.0.1 speaks the TWS wire protocol to the real `ib_async` client.
Market data comes from `engine.sim.market.MarketModel`; orders, fills, positions and account
values from `engine.sim.book.Book`, whose events (engine.sim.events) are encoded here.
Faults (drops, 1100/1101/1102, restarts, rejections, greeks delays, competing sessions) are
methods on the gateway; engine.sim.control exposes them over a loopback JSON-lines port.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ib_async.contract import Contract
from ib_async.objects import ExecutionFilter
from ib_async.order import Order, OrderState

from engine.sim import decode as d
from engine.sim import messages as m
from engine.sim.events import (
    AccountEvent,
    ExecutionEvent,
    OpenOrderEvent,
    OrderErrorEvent,
    OrderStatusEvent,
    PositionEvent,
)
from engine.sim.wire import (
    HEADER,
    MIN_CLIENT_VERSION,
    SERVER_VERSION,
    UNSET_DOUBLE,
    FrameBuffer,
    frame,
    parse_version_range,
    split_fields,
)

log = logging.getLogger("putdesk.sim")

UTC = dt.UTC

# Error texts as a real gateway words them.
MSG_326 = "Unable to connect as the client id is already in use. Retry with a unique client id."
MSG_100 = "Max rate of messages per second has been exceeded:max={limit} rec={n} (543)"
MSG_101 = "Max number of tickers has been reached"
MSG_162_PACING = "Historical Market Data Service error message:Pacing violation"
MSG_200 = "No security definition has been found for the request"
MSG_414 = "Snapshot market data subscription is not applicable to generic ticks"
MSG_10197 = "No market data during competing live session"
CONNECTIVITY = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}
FARM_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
# Account values that carry no currency.
NO_CURRENCY = frozenset(
    {"AccountCode", "AccountType", "AccountReady", "Cushion", "DayTradesRemaining"}
)
_LIST_1 = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,DEACTDIS,"
    "DEACTEOD,GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,"
    "OPENCLOSE,PEGMIDVOL,PEGMKTVOL,POSTONLY,REL,RELPCTOFS,SCALE,SCALERST,SNAPMID,"
    "SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,VOLAT,WHATIF"
)

_LIST_2 = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,BENCHPX,COND,CONDORDER,"
    "DARKONLY,DARKPOLL,DAY,DEACT,DEACTDIS,DEACTEOD,DIS,GAT,GTC,GTD,GTT,HID,IBKRATS,"
    "ICE,IMB,IOC,LIT,LMT,LOC,MIT,MKT,MOC,MTL,NGCOMB,NODARK,NONALGO,OCA,OPG,OPGREROUT,"
    "PEGBENCH,PEGMID,POSTATS,POSTONLY,PREOPGRTH,REL,RPI,RTH,SCALE,SCALEODD,SCALERST,"
    "SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,SWEEP,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)

_LIST_3 = (
    "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,BYX,IEX,"
    "EDGX,FOXRIVER,PEARL,NYSENAT,LTSE,MEMX,IBEOS,OVERNIGHT,TPLUS0,PSX"
)
# Unserved data requests -> index of their reqId field: market depth, real-time bars,
# fundamentals, IV/price calculations, head timestamp, histogram, P&L, historical ticks,
# tick-by-tick.
UNSUPPORTED_REQ_ID_FIELD = {
    10: 2,
    50: 2,
    52: 2,
    54: 2,
    55: 2,
    87: 1,
    88: 1,
    92: 1,
    94: 1,
    96: 1,
    97: 1,
}
EXEC_TIME_FORMAT = "%Y%m%d %H:%M:%S UTC"
#: At most this many missed session closes are run when the clock jumps (about 18 months).
MAX_CATCH_UP_CLOSES = 400
"""Execution times are sent as `YYYYMMDD HH:MM:SS UTC` (one space, explicit zone): ib_async's
parseIBDatetime reads that as an aware UTC time whatever `IB.TimezoneTWS` says."""


def exec_time_text(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime(EXEC_TIME_FORMAT)


def parse_filter_time(text: str) -> dt.datetime | None:
    """reqExecutions filter time `yyyymmdd hh:mm:ss [zone]` or `yyyymmdd-hh:mm:ss` (UTC)."""
    text = text.strip()
    if not text:
        return None
    parts = text.replace("-", " ").split()
    try:
        base = dt.datetime.strptime(
            parts[0] + (parts[1] if len(parts) > 1 else "00:00:00"), "%Y%m%d%H:%M:%S"
        )
    except ValueError:
        return None
    zone = parts[2] if len(parts) > 2 else "UTC"
    try:
        from zoneinfo import ZoneInfo

        return base.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    except Exception:
        return base.replace(tzinfo=UTC)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if f != f or f >= UNSET_DOUBLE:
        return None
    return f


def _size(v: Any) -> Decimal:
    f = _num(v)
    if f is None or f < 0:
        return Decimal(0)
    return Decimal(int(f)) if f == int(f) else Decimal(str(f))


# Tick ids: (live, delayed).
BID, ASK, LAST = (1, 66), (2, 67), (4, 68)
BID_SIZE, ASK_SIZE, LAST_SIZE = (0, 69), (3, 70), (5, 71)
HIGH, LOW, VOLUME, CLOSE, OPEN = (6, 72), (7, 73), (8, 74), (9, 75), (14, 76)
MODEL_GREEKS = (13, 83)


@dataclass
class Instrument:
    """A resolved market-data / contract-details target."""

    contract: Contract
    spec: Any  # SymbolSpec or OptionSpec
    is_option: bool
    min_tick: float = 0.01


@dataclass
class MktSub:
    req_id: int
    inst: Instrument
    generic: list[int]
    delayed: bool
    started: float
    last: dict[str, Any] = field(default_factory=dict)
    greeks_sent: bool = False
    halted: bool = False  # competing session or 1101 data loss


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    connections_total: int = 0
    messages_received: int = 0
    messages_sent: int = 0
    peak_msgs_per_sec: int = 0
    peak_market_data_lines: int = 0
    errors_by_code: Counter[int] = field(default_factory=Counter)
    orders: int = 0
    what_ifs: int = 0
    fills: int = 0
    disconnects_for_pacing: int = 0


class Session:
    """One API client connection."""

    def __init__(self, gw: SimGateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.gw = gw
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.ready = False
        self.closed = False
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.window: deque[float] = deque()
        self.subs: dict[int, MktSub] = {}
        self.data_type = 1
        self.data_type_requested = False
        self.account_updates = False
        self.positions = False
        self.summaries: dict[int, list[str]] = {}
        self.multis: dict[int, str] = {}
        self.scanners: set[int] = set()
        self.auto_open_orders = False

    # -------------------------------------------------------------- output
    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.out.append(data)
        self.gw.counters.messages_sent += 1
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and not self.closed:
            data = b"".join(self.out)
            self.out.clear()
            try:
                self.writer.write(data)
            except (ConnectionError, RuntimeError):
                self.close()

    def error(self, req_id: int, code: int, text: str, advanced: str = "") -> None:
        self.gw.counters.errors_by_code[code] += 1
        self.send(m.error(req_id, code, text, advanced))

    def close(self) -> None:
        if self.closed:
            return
        self.flush()
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()


class SimGateway:
    """The simulated gateway. `await start()`, connect ib_async to `port`, `await stop()`.

    market/book default to `engine.sim.market.MarketModel(seed, clock, calendar)` and
    `engine.sim.book.Book(market, clock, account_id=..., listener=self.on_book_event)`.
    """

    def __init__(
        self,
        market: Any = None,
        book: Any = None,
        *,
        seed: int = 7,
        clock: Any = None,
        calendar: Any = None,
        account_id: str = "DU1234567",
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float = 0.25,
        max_msgs_per_sec: int = 50,
        max_lines: int = 100,
        state_file: str | Path | None = None,
        save_interval: float = 30.0,
        book_options: dict[str, Any] | None = None,
    ) -> None:
        if clock is None:
            from engine.market.clock import RealClock

            clock = RealClock()
        self.clock = clock
        self.account_id = account_id
        if market is None:
            from engine.sim.market import MarketModel

            market = MarketModel(seed, clock, calendar=calendar)
        self.market = market
        self.calendar = calendar if calendar is not None else getattr(market, "calendar", None)
        if book is None:
            from engine.sim.book import Book

            book = Book(
                market,
                clock,
                account_id=account_id,
                listener=self.on_book_event,
                **(book_options or {}),
            )
        elif hasattr(book, "listener"):
            book.listener = self.on_book_event
        self.book = book
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self.max_msgs_per_sec = max_msgs_per_sec
        self.max_lines = max_lines
        self.state_file = Path(state_file) if state_file else None
        self.save_interval = save_interval
        self.counters = Stats()
        self.sessions: dict[int, Session] = {}
        self._all: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._next_ids: dict[int, int] = {}
        self._sec_bucket = (0, 0)
        self._hist_recent: deque[tuple[float, tuple[Any, ...]]] = deque()
        self._last_tick_time: dt.datetime | None = None
        #: The simulated time of the last save (from the state file): closes between it and
        #: the start are run at the first tick, so nothing expires unnoticed while stopped.
        self._saved_sim_time: dt.datetime | None = None
        self._last_save = time.monotonic()
        # faults
        self.reject_next: str | None = None
        self.greeks_delay = 0.0
        self.greeks_withheld = False
        self.competing_session = False
        self.connectivity_lost = False
        if self.state_file and self.state_file.exists():
            self.load_state()

    # ================================================================ life cycle
    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one; `self.port` then holds it)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if not self._tasks:
            now_t = self.clock.now()
            saved = self._saved_sim_time
            self._last_tick_time = saved if saved is not None and saved < now_t else now_t
            self._tasks.append(asyncio.create_task(self._tick_loop(), name="sim-ticks"))
        log.info("sim gateway listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Close every connection, stop listening and ticking, save state."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self._close_listener()
        if self.state_file:
            self.save_state()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self._all):
            self._drop(s)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> SimGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def listening(self) -> bool:
        return self._server is not None

    # ================================================================ state
    def save_state(self) -> None:
        if not self.state_file or not hasattr(self.book, "to_state"):
            return
        tmp = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        state = {**self.book.to_state(), "sim_time": self.clock.now().isoformat()}
        tmp.write_text(json.dumps(state, default=str))
        tmp.replace(self.state_file)
        self._last_save = time.monotonic()

    def load_state(self) -> None:
        """Replace the book with the one saved in `state_file` (Book.from_state)."""
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text())
        saved = data.pop("sim_time", None)
        self._saved_sim_time = dt.datetime.fromisoformat(saved) if saved else None
        loader = getattr(type(self.book), "from_state", None)
        if loader is None:
            return
        self.book = loader(self.market, self.clock, data, listener=self.on_book_event)

    # ================================================================ stats
    def market_data_lines(self) -> int:
        return sum(len(s.subs) for s in self._all)

    def stats_dict(self) -> dict[str, Any]:
        s = self.counters
        return {
            "port": self.port,
            "account": self.account_id,
            "uptime_s": round(time.time() - s.started, 1),
            "clients": sorted(self.sessions),
            "connections_total": s.connections_total,
            "messages_received": s.messages_received,
            "messages_sent": s.messages_sent,
            "peak_msgs_per_sec": s.peak_msgs_per_sec,
            "market_data_lines": self.market_data_lines(),
            "peak_market_data_lines": s.peak_market_data_lines,
            "errors_by_code": {str(k): v for k, v in sorted(s.errors_by_code.items())},
            "orders": s.orders,
            "what_ifs": s.what_ifs,
            "fills": s.fills,
            "disconnects_for_pacing": s.disconnects_for_pacing,
            "sim_time": self.clock.now().isoformat(),
        }

    def stats(self) -> dict[str, Any]:
        """Counters: messages received, peak msgs/s, peak market-data lines, errors by code,
        orders, fills (what `putdesk sim stats` prints)."""
        return self.stats_dict()

    # ================================================================ faults / control
    async def drop_connections(self) -> int:
        """Close every client socket (the listener stays up). Returns how many were dropped."""
        n = len(self._all)
        for s in list(self._all):
            self._drop(s)
        await asyncio.sleep(0)
        return n

    def send_connectivity(self, code: int) -> None:
        """Send 1100 (lost), 1101 (restored, data lost) or 1102 (restored, data kept) to every
        client. While lost, no market data streams; 1101 cancels every subscription."""
        if code not in CONNECTIVITY:
            raise ValueError(f"connectivity code must be one of {sorted(CONNECTIVITY)}")
        self.connectivity_lost = code == 1100
        for s in list(self.sessions.values()):
            if code == 1101:
                s.subs.clear()
            s.error(-1, code, CONNECTIVITY[code])

    async def restart(self, downtime: float = 0.0) -> None:
        """Gateway restart keeping state: stop listening, close sockets, listen again on the
        same port after `downtime` seconds."""
        port = self.port
        await self._close_listener()
        if self.state_file:
            self.save_state()
        if downtime > 0:
            await asyncio.sleep(downtime)
        self.port = port
        self._server = await asyncio.start_server(self._serve, self.host, port, reuse_address=True)

    def reject_next_order(self, reason: str = "Simulated rejection") -> None:
        """The next placeOrder (not what-if) gets error 201 with `reason`."""
        fn = getattr(self.book, "reject_next", None)
        if fn is not None:
            fn(reason)
        else:
            self.reject_next = reason

    def set_greeks(self, *, delay: float | None = None, withhold: bool | None = None) -> None:
        """Delay model greeks by `delay` seconds after subscribing, or withhold them."""
        if delay is not None:
            self.greeks_delay = max(0.0, float(delay))
        if withhold is not None:
            self.greeks_withheld = bool(withhold)

    def set_competing_session(self, on: bool = True) -> None:
        """Competing live session: error 10197 on market-data requests until cleared."""
        self.competing_session = on
        for s in self._all:
            for sub in s.subs.values():
                if on and not sub.halted:
                    s.error(sub.req_id, 10197, MSG_10197)
                sub.halted = on
                if not on:
                    sub.last.clear()

    def set_price(self, symbol: str, price: float) -> None:
        """Delegate to the market model (`set_price`)."""
        fn = getattr(self.market, "set_price", None)
        if fn is None:
            raise RuntimeError("market model has no set_price")
        fn(symbol, price)

    def apply_gap(self, symbol: str, pct: float) -> None:
        """Delegate to the market model (`apply_gap`, a relative move, e.g. -0.05)."""
        fn = getattr(self.market, "apply_gap", None)
        if fn is None:
            price = _num(self.market.price(symbol))
            if price is None:
                raise RuntimeError(f"no price for {symbol}")
            self.set_price(symbol, price * (1 + pct))
            return
        fn(symbol, pct)

    def advance_clock(self, seconds: float) -> dt.datetime:
        """Move a stepped/scaled clock forward, then run one tick (fills, end of day)."""
        adv = getattr(self.clock, "advance", None)
        if adv is None:
            raise RuntimeError("this clock cannot be advanced (real time)")
        adv(dt.timedelta(seconds=seconds))
        self.tick()
        return self.clock.now()

    def end_of_day_now(self, date: dt.date | None = None) -> dt.date:
        """Run the book's end of day (expiry, assignment) for `date` (default: today in ET)."""
        if date is None:
            from engine.market.calendar import to_et

            date = to_et(self.clock.now()).date()
        self.book.end_of_day(date)
        return date

    # ================================================================ book events
    def on_book_event(self, ev: Any) -> None:
        """Listener given to the Book: encode each event for the clients concerned."""
        if isinstance(ev, OpenOrderEvent):
            s = self.sessions.get(ev.client_id)
            if s:
                s.send(m.open_order(ev.contract, ev.order, ev.state))
        elif isinstance(ev, OrderStatusEvent):
            s = self.sessions.get(ev.client_id)
            if s:
                s.send(
                    m.order_status(
                        ev.order_id,
                        ev.status,
                        ev.filled,
                        ev.remaining,
                        ev.avg_fill_price,
                        ev.perm_id,
                        ev.parent_id,
                        ev.last_fill_price,
                        ev.client_id,
                        ev.why_held,
                    )
                )
        elif isinstance(ev, OrderErrorEvent):
            s = self.sessions.get(ev.client_id)
            if s:
                s.error(ev.order_id, ev.code, ev.message)
            else:
                self.counters.errors_by_code[ev.code] += 1
        elif isinstance(ev, ExecutionEvent):
            self.counters.fills += 1
            when = ev.execution.time
            text = exec_time_text(when if isinstance(when, dt.datetime) else self.clock.now())
            det = m.exec_details(-1, ev.contract, ev.execution, text)
            com = m.commission_report(ev.commission)
            for s in self.sessions.values():
                s.send(det)
                s.send(com)
        elif isinstance(ev, PositionEvent):
            msg = m.position(ev.account, ev.contract, ev.position, ev.avg_cost)
            port = None
            for s in self.sessions.values():
                if s.positions:
                    s.send(msg)
                if s.account_updates:
                    if port is None:
                        port = self._portfolio_msgs(ev.contract.conId, ev.contract, ev.position)
                    for p in port:
                        s.send(p)
        elif isinstance(ev, AccountEvent):
            values = ev.values or self._account_values()
            portfolio: list[bytes] | None = None
            for s in self.sessions.values():
                if s.account_updates:
                    if portfolio is None:
                        portfolio = [
                            m.portfolio_value(c, p, mp, mv, ac, up, rp, self.account_id)
                            for c, p, mp, mv, ac, up, rp in self._portfolio_rows()
                        ]
                    for msg in portfolio:
                        s.send(msg)
                    for k, v in values.items():
                        s.send(
                            m.account_value(k, str(v), self._ccy(k), ev.account or self.account_id)
                        )
                    s.send(m.account_update_time(self._hhmm()))
                for rid, tags in s.summaries.items():
                    for k in tags:
                        if k in values:
                            s.send(
                                m.account_summary(
                                    rid, self.account_id, k, str(values[k]), self._ccy(k)
                                )
                            )
                for rid in s.multis:
                    for k, v in values.items():
                        s.send(
                            m.account_update_multi(
                                rid, self.account_id, "", k, str(v), self._ccy(k)
                            )
                        )

    # ================================================================ connection
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = Session(self, reader, writer)
        self._all.add(s)
        self.counters.connections_total += 1
        buf = FrameBuffer()
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            (size,) = HEADER.unpack(await reader.readexactly(4))
            if not self._handshake(s, await reader.readexactly(size)):
                return
            while not s.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for payload in buf.feed(data):
                    if s.closed:
                        break
                    self._on_message(s, split_fields(payload))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except Exception:
            log.exception("sim session crashed")
        finally:
            self._drop(s)

    def _handshake(self, s: Session, payload: bytes) -> bool:
        rng = parse_version_range(payload.decode(errors="replace"))
        if rng is None or rng[1] < MIN_CLIENT_VERSION:
            return False
        version = min(SERVER_VERSION, rng[1])
        when = self.clock.now().astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        s.writer.write(frame(f"{version}\0{when}\0".encode()))
        return True

    def _drop(self, s: Session) -> None:
        s.subs.clear()
        s.close()
        self._all.discard(s)
        if s.client_id is not None and self.sessions.get(s.client_id) is s:
            del self.sessions[s.client_id]

    # ================================================================ dispatch
    def _count(self, s: Session) -> bool:
        """Count one message; False (and disconnect) when over the per-second limit."""
        now = time.monotonic()
        st = self.counters
        st.messages_received += 1
        sec = int(now)
        b_sec, b_n = self._sec_bucket
        if sec == b_sec:
            b_n += 1
        else:
            b_sec, b_n = sec, 1
        self._sec_bucket = (b_sec, b_n)
        if b_n > st.peak_msgs_per_sec:
            st.peak_msgs_per_sec = b_n
        limit = self.max_msgs_per_sec
        if limit and s.ready:
            w = s.window
            w.append(now)
            while w and now - w[0] > 1.0:
                w.popleft()
            if len(w) > limit:
                s.error(-1, 100, MSG_100.format(limit=limit, n=len(w)))
                st.disconnects_for_pacing += 1
                self._drop(s)
                return False
        return True

    def _on_message(self, s: Session, fields: list[str]) -> None:
        if not self._count(s):
            return
        req = d.parse(fields)
        if not s.ready:
            if isinstance(req, d.StartApi):
                self._start_api(s, req)
            return
        handler = self._handlers.get(type(req))
        if handler is None:
            if isinstance(req, d.Unsupported):
                self._unsupported(s, req)
            return
        try:
            handler(self, s, req)
        except Exception as exc:
            log.exception("sim: request %s failed", type(req).__name__)
            rid = getattr(req, "req_id", getattr(req, "order_id", -1))
            s.error(rid, 321, f"Error validating request:-'{exc}'")

    def _unsupported(self, s: Session, req: d.Unsupported) -> None:
        """Data requests the simulator does not serve end with error 354 (so a waiting
        ib_async call returns instead of hanging); anything else is ignored."""
        pos = UNSUPPORTED_REQ_ID_FIELD.get(req.msg_id)
        if pos is None or pos >= len(req.fields):
            return
        try:
            req_id = int(req.fields[pos])
        except ValueError:
            return
        s.error(req_id, 354, "Requested market data is not subscribed (not simulated).")

    def _start_api(self, s: Session, req: d.StartApi) -> None:
        cid = req.client_id
        if cid in self.sessions:
            s.error(-1, 326, MSG_326)
            self._drop(s)
            return
        s.client_id = cid
        s.ready = True
        self.sessions[cid] = s
        s.send(m.managed_accounts([self.account_id]))
        s.send(m.next_valid_id(self._next_id(cid)))
        for code, text in FARM_OK:
            s.error(-1, code, text)

    def _next_id(self, cid: int) -> int:
        """Next valid order id for a client: above every order id it ever used here."""
        n = self._next_ids.get(cid)
        if n is None:
            n = 1
            orders = getattr(self.book, "orders", None)
            if isinstance(orders, dict):
                for key in orders:
                    if isinstance(key, tuple) and len(key) == 2 and key[0] == cid:
                        n = max(n, int(key[1]) + 1)
            self._next_ids[cid] = n
        return n

    # ---------------------------------------------------------------- helpers
    def _hhmm(self) -> str:
        return self.clock.now().astimezone(UTC).strftime("%H:%M")

    @staticmethod
    def _ccy(key: str) -> str:
        return "" if key in NO_CURRENCY else "USD"

    def _account_values(self) -> dict[str, str]:
        vals = dict(self.book.account_values())
        vals.setdefault("AccountCode", self.account_id)
        return {k: str(v) for k, v in vals.items()}

    def _portfolio_rows(self) -> list[tuple[Contract, Any, float, float, float, float, float]]:
        """(contract, position, marketPrice, marketValue, avgCost, unrealized, realized)."""
        rows = []
        for item in self.book.portfolio():
            if isinstance(item, tuple | list):
                # (account?, contract, position, marketPrice, marketValue, avgCost, unreal, real)
                vals = list(item)
                if vals and isinstance(vals[0], str):
                    vals = vals[1:]
                if vals and isinstance(vals[-1], str):
                    vals = vals[:-1]
                c, pos, mp, mv, ac, up, rp = (vals + [0.0] * 7)[:7]
            else:
                c = _get(item, "contract")
                pos = _get(item, "position")
                mp = _get(item, "marketPrice", _get(item, "market_price", 0.0))
                mv = _get(item, "marketValue", _get(item, "market_value", 0.0))
                ac = _get(
                    item, "averageCost", _get(item, "average_cost", _get(item, "avg_cost", 0.0))
                )
                up = _get(item, "unrealizedPNL", _get(item, "unrealized_pnl", 0.0))
                rp = _get(item, "realizedPNL", _get(item, "realized_pnl", 0.0))
            rows.append(
                (
                    c,
                    pos,
                    float(mp or 0),
                    float(mv or 0),
                    float(ac or 0),
                    float(up or 0),
                    float(rp or 0),
                )
            )
        return rows

    def _portfolio_msgs(self, con_id: int, contract: Contract, pos: Decimal) -> list[bytes]:
        out = []
        for c, p, mp, mv, ac, up, rp in self._portfolio_rows():
            if c.conId == con_id:
                out.append(m.portfolio_value(c, p, mp, mv, ac, up, rp, self.account_id))
        if not out and not pos:
            out.append(
                m.portfolio_value(contract, Decimal(0), 0.0, 0.0, 0.0, 0.0, 0.0, self.account_id)
            )
        return out

    # ---------------------------------------------------------------- instruments
    def _by_con_id(self, con_id: int) -> Any:
        bc = self.market.by_con_id
        if callable(bc):
            return bc(con_id)
        return bc.get(con_id)

    def _stock_contract(self, spec: Any, exchange: str = "") -> Contract:
        sec = _get(spec, "sec_type", "STK")
        return Contract(
            secType=sec,
            conId=int(_get(spec, "con_id")),
            symbol=_get(spec, "symbol"),
            exchange=exchange or _get(spec, "exchange", "SMART"),
            primaryExchange=_get(spec, "primary_exchange", "") or "",
            currency=_get(spec, "currency", "USD") or "USD",
            localSymbol=_get(spec, "symbol"),
            tradingClass=_get(spec, "trading_class", "")
            or (_get(spec, "symbol") if sec == "STK" else ""),
        )

    @staticmethod
    def _expiry_text(expiry: Any) -> str:
        if isinstance(expiry, dt.date):
            return expiry.strftime("%Y%m%d")
        return str(expiry).replace("-", "")

    def _option_contract(self, spec: Any, exchange: str = "") -> Contract:
        return Contract(
            secType="OPT",
            conId=int(spec.con_id),
            symbol=spec.symbol,
            lastTradeDateOrContractMonth=self._expiry_text(spec.expiry),
            strike=float(spec.strike),
            right=spec.right,
            multiplier=str(spec.multiplier),
            exchange=exchange or spec.exchange or "SMART",
            currency=_get(spec, "currency", "USD") or "USD",
            localSymbol=spec.local_symbol,
            tradingClass=spec.trading_class,
        )

    def _is_option_spec(self, spec: Any) -> bool:
        return hasattr(spec, "strike") and hasattr(spec, "right") and hasattr(spec, "expiry")

    def _instrument_from_spec(self, spec: Any, exchange: str = "") -> Instrument:
        if self._is_option_spec(spec):
            c = self._option_contract(spec, exchange)
            return Instrument(c, spec, True, 0.05 if float(spec.strike) > 0 else 0.01)
        return Instrument(self._stock_contract(spec, exchange), spec, False, 0.01)

    @staticmethod
    def _norm_right(r: str) -> str:
        r = (r or "").upper()
        return {"PUT": "P", "CALL": "C"}.get(r, r)

    def _find_symbol(self, symbol: str, sec_type: str = "") -> Any:
        try:
            return self.market.find(symbol, sec_type or None)
        except TypeError:
            return self.market.find(symbol)

    def _resolve(self, c: Contract) -> list[Instrument]:
        """Every listed instrument matching a (possibly partial) contract."""
        ex = c.exchange if c.exchange else ""
        if c.conId:
            spec = self._by_con_id(c.conId)
            return [self._instrument_from_spec(spec, ex)] if spec is not None else []
        sec = c.secType
        if sec in ("OPT", "FOP"):
            return [self._instrument_from_spec(o, ex) for o in self._options_matching(c)]
        if not c.symbol:
            return []
        spec = self._find_symbol(c.symbol, sec)
        if spec is None:
            return []
        if sec and _get(spec, "sec_type", sec) != sec:
            return []
        if c.currency and (_get(spec, "currency", "USD") or "USD") != c.currency:
            return []
        return [self._instrument_from_spec(spec, ex)]

    def _options_matching(self, c: Contract) -> list[Any]:
        if not c.symbol:
            return []
        try:
            chains = self.market.option_params(c.symbol)
        except Exception:
            return []
        right = self._norm_right(c.right)
        want_exp = c.lastTradeDateOrContractMonth
        want_strike = float(c.strike or 0.0)
        out = []
        seen_classes = set()
        for ch in chains or []:
            tc = ch.trading_class
            if c.tradingClass and tc != c.tradingClass:
                continue
            if tc in seen_classes:
                continue
            seen_classes.add(tc)
            if c.multiplier and str(ch.multiplier) != str(c.multiplier):
                continue
            for exp in ch.expirations:
                et = self._expiry_text(exp)
                if want_exp and not et.startswith(want_exp):
                    continue
                strikes = self.market.expiry_strikes(c.symbol, tc, exp)
                for k in strikes:
                    if want_strike and abs(float(k) - want_strike) > 1e-6:
                        continue
                    for r in (right,) if right else ("C", "P"):
                        spec = self.market.option(c.symbol, tc, exp, k, r)
                        if spec is not None:
                            out.append(spec)
        return out

    # ---------------------------------------------------------------- quotes
    def _quote(
        self, inst: Instrument, cache: dict[int, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        key = inst.contract.conId
        if cache is not None and key in cache:
            return cache[key]
        q: dict[str, Any]
        if inst.is_option:
            oq = self.market.option_quote(inst.spec)
            q = {
                "bid": _num(oq.bid),
                "ask": _num(oq.ask),
                "bid_size": _size(oq.bid_size),
                "ask_size": _size(oq.ask_size),
                "last": _num(oq.last),
                "volume": _size(oq.volume),
                "open_interest": _size(oq.open_interest),
                "iv": _num(oq.iv),
                "greeks": (
                    _num(oq.iv),
                    _num(oq.delta),
                    _num(oq.model_price),
                    _num(oq.gamma),
                    _num(oq.vega),
                    _num(oq.theta),
                    _num(oq.und_price),
                ),
                "close": _num(_get(oq, "close")),
            }
        else:
            uq = self.market.underlying_quote(inst.contract.symbol)
            q = {
                "bid": _num(_get(uq, "bid")),
                "ask": _num(_get(uq, "ask")),
                "bid_size": _size(_get(uq, "bid_size", 100)),
                "ask_size": _size(_get(uq, "ask_size", 100)),
                "last": _num(_get(uq, "last", _get(uq, "price"))),
                "volume": _size(_get(uq, "volume", 0)),
                "close": _num(_get(uq, "close", _get(uq, "prev_close"))),
                "open": _num(_get(uq, "open")),
                "high": _num(_get(uq, "high")),
                "low": _num(_get(uq, "low")),
                "iv": _num(_get(uq, "iv", _get(uq, "implied_vol"))),
                "hv": _num(_get(uq, "hv", _get(uq, "hist_vol"))),
            }
        if cache is not None:
            cache[key] = q
        return q

    def _emit_quote(self, s: Session, sub: MktSub, q: dict[str, Any], now: float) -> None:
        """Send the fields of `q` that changed since the last push to this subscription."""
        last = sub.last
        dl = 1 if sub.delayed else 0
        rid = sub.req_id
        send = s.send

        bid, bsz = q.get("bid"), q.get("bid_size", Decimal(0))
        if (bid, bsz) != (last.get("bid"), last.get("bid_size")):
            if bid is not None and bid > 0 and bsz > 0:
                send(m.tick_price(rid, BID[dl], bid, bsz, 1))
            else:
                send(m.tick_price(rid, BID[dl], -1.0, 0, 0))
            last["bid"], last["bid_size"] = bid, bsz
        ask, asz = q.get("ask"), q.get("ask_size", Decimal(0))
        if (ask, asz) != (last.get("ask"), last.get("ask_size")):
            if ask is not None and ask > 0 and asz > 0:
                send(m.tick_price(rid, ASK[dl], ask, asz, 1))
            else:
                send(m.tick_price(rid, ASK[dl], -1.0, 0, 0))
            last["ask"], last["ask_size"] = ask, asz
        lp = q.get("last")
        if lp is not None and lp != last.get("last"):
            send(m.tick_price(rid, LAST[dl], lp, Decimal(1), 0))
            last["last"] = lp
        vol = q.get("volume")
        if vol is not None and vol != last.get("volume"):
            send(m.tick_size(rid, VOLUME[dl], vol))
            last["volume"] = vol
        for key, tick in (("close", CLOSE), ("open", OPEN), ("high", HIGH), ("low", LOW)):
            v = q.get(key)
            if v is not None and v != last.get(key):
                send(m.tick_price(rid, tick[dl], v, 0, 0))
                last[key] = v
        gen = sub.generic
        if gen:
            is_put = sub.inst.is_option and sub.inst.contract.right == "P"
            if 101 in gen and sub.inst.is_option:
                oi = q.get("open_interest")
                if oi is not None and oi != last.get("oi"):
                    send(m.tick_size(rid, 28 if is_put else 27, oi))
                    last["oi"] = oi
            if 100 in gen and sub.inst.is_option and vol is not None and vol != last.get("ov"):
                send(m.tick_size(rid, 30 if is_put else 29, vol))
                last["ov"] = vol
            if 106 in gen:
                iv = q.get("iv")
                if iv is not None and iv != last.get("iv"):
                    send(m.tick_generic(rid, 24, iv))
                    last["iv"] = iv
            if 104 in gen:
                hv = q.get("hv")
                if hv is not None and hv != last.get("hv"):
                    send(m.tick_generic(rid, 23, hv))
                    last["hv"] = hv
        if (
            sub.inst.is_option
            and not self.greeks_withheld
            and now - sub.started >= self.greeks_delay
        ):
            g = q.get("greeks")
            if g is not None and g != last.get("greeks"):
                iv, delta, price, gamma, vega, theta, und = g
                send(
                    m.tick_option_computation(
                        rid,
                        MODEL_GREEKS[dl],
                        -1.0 if iv is None else iv,
                        -2.0 if delta is None else delta,
                        -1.0 if price is None else price,
                        0.0,
                        -2.0 if gamma is None else gamma,
                        -2.0 if vega is None else vega,
                        -2.0 if theta is None else theta,
                        -1.0 if und is None else und,
                    )
                )
                last["greeks"] = g

    # ---------------------------------------------------------------- tick loop
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self.tick()
            except Exception:
                log.exception("sim tick failed")

    def tick(self) -> None:
        """One tick: end of day on a session-close crossing, book.on_tick(), quote pushes."""
        now_t = self.clock.now()
        prev = self._last_tick_time or now_t
        self._last_tick_time = now_t
        self._check_close(prev, now_t)
        on_tick = getattr(self.book, "on_tick", None)
        if on_tick is not None:
            on_tick()
        self.push_quotes()
        if self.state_file and time.monotonic() - self._last_save > self.save_interval:
            with contextlib.suppress(Exception):
                self.save_state()

    def _check_close(self, prev: dt.datetime, now_t: dt.datetime) -> None:
        """End of day for every close in (prev, now_t], oldest first (several after a stop
        across sessions, or a big clock step)."""
        cal = self.calendar
        if cal is None or now_t <= prev:
            return
        closes: list[dt.datetime] = []
        t = now_t
        try:
            while len(closes) < MAX_CATCH_UP_CLOSES:
                close = cal.previous_close(t)
                if close <= prev:
                    break
                closes.append(close)
                t = close - dt.timedelta(microseconds=1)
        except Exception:
            pass
        from engine.market.calendar import to_et

        for close in reversed(closes):
            self.book.end_of_day(to_et(close).date())

    def push_quotes(self) -> None:
        if self.connectivity_lost:
            return
        now = time.monotonic()
        cache: dict[int, dict[str, Any]] = {}
        for s in list(self._all):
            if not s.subs or s.closed:
                continue
            frozen = s.data_type in (2, 4) and not self._market_open()
            for sub in list(s.subs.values()):
                if sub.halted or (frozen and sub.last):
                    continue
                try:
                    q = self._quote(sub.inst, cache)
                except Exception:
                    continue
                self._emit_quote(s, sub, q, now)

    def _market_open(self) -> bool:
        fn = getattr(self.market, "is_open", None)
        try:
            return bool(fn()) if fn else True
        except Exception:
            return True

    # ================================================================ handlers
    def _h_mkt_data(self, s: Session, r: d.ReqMktData) -> None:
        if self.competing_session:
            s.error(r.req_id, 10197, MSG_10197)
            return
        if r.snapshot and r.generic_ticks:
            s.error(r.req_id, 414, MSG_414)
            return
        if not r.snapshot and r.req_id not in s.subs and self.market_data_lines() >= self.max_lines:
            s.error(r.req_id, 101, MSG_101)
            return
        found = self._resolve(r.contract)
        if len(found) != 1:
            s.error(r.req_id, 200, MSG_200)
            return
        inst = found[0]
        delayed = s.data_type in (3, 4)
        s.send(m.tick_req_params(r.req_id, inst.min_tick, "9c0001" if not delayed else "", 3))
        if s.data_type_requested:
            # Frozen types (2, 4) report their live/delayed counterpart while the market is open.
            dtype = s.data_type
            if dtype in (2, 4) and self._market_open():
                dtype -= 1
            s.send(m.market_data_type(r.req_id, dtype))
        now = time.monotonic()
        sub = MktSub(r.req_id, inst, r.generic_ticks, delayed, now)
        q = self._quote(inst)
        if r.snapshot:
            self._emit_quote(s, sub, q, now)
            s.send(m.tick_snapshot_end(r.req_id))
            return
        s.subs[r.req_id] = sub
        lines = self.market_data_lines()
        if lines > self.counters.peak_market_data_lines:
            self.counters.peak_market_data_lines = lines
        if not self.connectivity_lost:
            self._emit_quote(s, sub, q, now)

    def _h_cancel_mkt(self, s: Session, r: d.CancelMktData) -> None:
        s.subs.pop(r.req_id, None)

    def _h_market_data_type(self, s: Session, r: d.ReqMarketDataType) -> None:
        s.data_type = r.data_type if r.data_type in (1, 2, 3, 4) else 1
        s.data_type_requested = True

    def _h_contract_details(self, s: Session, r: d.ReqContractDetails) -> None:
        found = self._resolve(r.contract)
        if not found:
            s.error(r.req_id, 200, MSG_200)
            return
        for inst in found:
            s.send(self._contract_data_msg(r.req_id, inst, r.contract.exchange))
        s.send(m.contract_data_end(r.req_id))

    def _contract_data_msg(self, req_id: int, inst: Instrument, exchange: str) -> bytes:
        c = Contract(
            **{
                k: getattr(inst.contract, k)
                for k in (
                    "secType",
                    "conId",
                    "symbol",
                    "lastTradeDateOrContractMonth",
                    "strike",
                    "right",
                    "multiplier",
                    "exchange",
                    "primaryExchange",
                    "currency",
                    "localSymbol",
                    "tradingClass",
                )
            }
        )
        if not exchange:
            c.exchange = "SMART"
        hours = self._hours_text()
        if inst.is_option:
            spec = inst.spec
            und = self._by_con_id(spec.underlying_con_id) if spec.underlying_con_id else None
            und_sec = _get(und, "sec_type", "STK") if und is not None else "STK"
            expiry = c.lastTradeDateOrContractMonth
            return m.contract_data(
                req_id,
                c,
                market_name=spec.trading_class,
                min_tick=0.01,
                order_types=_LIST_1,
                valid_exchanges="SMART,CBOE,AMEX,ISE,PHLX,BOX,NASDAQOM,BATS,EDGX,MIAX,PEARL,EMERALD,MEMX,IBUSOPT",
                under_con_id=int(spec.underlying_con_id or 0),
                long_name=_get(und, "long_name", spec.symbol) if und is not None else spec.symbol,
                contract_month=expiry[:6],
                industry=_get(und, "industry", "") if und is not None else "",
                category=_get(und, "sector", "") if und is not None else "",
                subcategory="",
                time_zone_id="US/Eastern",
                trading_hours=hours,
                liquid_hours=hours,
                last_trade_time=self._ltt_text(_get(spec, "last_trade_time")),
                under_symbol=spec.symbol,
                under_sec_type=und_sec,
                market_rule_ids="32",
                real_expiration_date=expiry,
            )
        spec = inst.spec
        is_index = c.secType == "IND"
        return m.contract_data(
            req_id,
            c,
            market_name=_get(spec, "trading_class", "") or c.symbol,
            min_tick=0.01,
            order_types="" if is_index else _LIST_2,
            valid_exchanges=(_get(spec, "exchange", "CBOE") if is_index else _LIST_3),
            under_con_id=0,
            long_name=_get(spec, "long_name", c.symbol) or c.symbol,
            contract_month="",
            industry=_get(spec, "industry", "") or "",
            category=_get(spec, "sector", "") or "",
            subcategory=_get(spec, "subcategory", "") or "",
            time_zone_id="US/Eastern",
            trading_hours=hours,
            liquid_hours=hours,
            market_rule_ids="26" if not is_index else "109",
            stock_type=_get(spec, "stock_type", "") or ("" if is_index else "COMMON"),
            sec_ids=()
            if is_index
            else ((("ISIN", _get(spec, "isin")),) if _get(spec, "isin") else ()),
        )

    @staticmethod
    def _ltt_text(value: Any) -> str:
        if isinstance(value, dt.datetime):
            from engine.market.calendar import to_et

            return to_et(value).strftime("%H:%M:%S")
        return str(value or "")

    def _hours_text(self) -> str:
        cal = self.calendar
        if cal is None:
            return ""
        try:
            from engine.market.calendar import to_et

            today = to_et(self.clock.now()).date()
            parts = []
            for i in range(0, 7):
                day = today + dt.timedelta(days=i)
                ds = day.strftime("%Y%m%d")
                if cal.is_session(day):
                    o = to_et(cal.session_open(day)).strftime("%H%M")
                    c = to_et(cal.session_close(day)).strftime("%H%M")
                    parts.append(f"{ds}:{o}-{ds}:{c}")
                else:
                    parts.append(f"{ds}:CLOSED")
            return ";".join(parts)
        except Exception:
            return ""

    def _h_sec_def(self, s: Session, r: d.ReqSecDefOptParams) -> None:
        spec = self._by_con_id(r.con_id) if r.con_id else None
        if spec is None:
            spec = self._find_symbol(r.symbol, r.sec_type)
        if spec is None:
            s.error(r.req_id, 200, MSG_200)
            return
        if not r.fut_fop_exchange:
            for ch in self.market.option_params(_get(spec, "symbol")):
                s.send(
                    m.sec_def_opt_params(
                        r.req_id,
                        ch.exchange,
                        int(_get(spec, "con_id")),
                        ch.trading_class,
                        str(ch.multiplier),
                        [self._expiry_text(e) for e in ch.expirations],
                        [float(k) for k in ch.strikes],
                    )
                )
        s.send(m.sec_def_opt_params_end(r.req_id))

    # ---------------------------------------------------------------- orders
    def _h_place(self, s: Session, r: d.PlaceOrder) -> None:
        cid = s.client_id if s.client_id is not None else 0
        o = r.order
        o.clientId = cid
        if r.order_id >= self._next_ids.get(cid, 1):
            self._next_ids[cid] = r.order_id + 1
        if o.whatIf:
            self.counters.what_ifs += 1
            result = self.book.what_if(cid, r.contract, o)
            if isinstance(result, OrderState):
                o.account = o.account or self.account_id
                s.send(m.open_order(r.contract, o, result))
            elif isinstance(result, tuple):
                code, text = result
                s.error(r.order_id, int(code), str(text))
            return
        self.counters.orders += 1
        if self.reject_next is not None:
            reason = self.reject_next
            self.reject_next = None
            s.error(r.order_id, 201, f"Order rejected - reason:{reason}")
            return
        self.book.place(cid, r.contract, o)

    def _h_cancel(self, s: Session, r: d.CancelOrder) -> None:
        self.book.cancel(s.client_id, r.order_id)

    def _send_open_orders(
        self, s: Session, rows: Iterable[tuple[Contract, Order, OrderState]]
    ) -> None:
        """openOrder + orderStatus per live order, then openOrderEnd."""
        lookup = getattr(self.book, "order", None)
        for c, o, st in rows:
            s.send(m.open_order(c, o, st))
            rec = lookup(o.clientId, o.orderId) if lookup is not None else None
            total = Decimal(str(o.totalQuantity))
            if rec is not None:
                filled, remaining = rec.filled, rec.remaining
                avg, last = float(rec.avg_fill_price), float(rec.last_fill_price)
                why = rec.why_held
            else:
                filled, remaining, avg, last, why = Decimal(0), total, 0.0, 0.0, ""
            s.send(
                m.order_status(
                    o.orderId,
                    st.status,
                    filled,
                    remaining,
                    avg,
                    o.permId,
                    o.parentId,
                    last,
                    o.clientId,
                    why,
                )
            )
        s.send(m.open_order_end())

    def _h_simple(self, s: Session, r: d.Simple) -> None:
        mid = r.msg_id
        if mid == d.REQ_OPEN_ORDERS:
            self._send_open_orders(s, self.book.open_orders(s.client_id))
        elif mid == d.REQ_ALL_OPEN_ORDERS:
            self._send_open_orders(s, self.book.open_orders(None))
        elif mid == d.REQ_AUTO_OPEN_ORDERS:
            s.auto_open_orders = r.flag
        elif mid == d.REQ_COMPLETED_ORDERS:
            for c, o, st in self.book.completed_orders():
                s.send(m.completed_order(c, o, st))
            s.send(m.completed_orders_end())
        elif mid == d.REQ_POSITIONS:
            s.positions = True
            for p in self.book.positions():
                if isinstance(p, PositionEvent):
                    s.send(m.position(p.account, p.contract, p.position, p.avg_cost))
                else:
                    acct, c, qty, avg = p
                    s.send(m.position(acct, c, qty, avg))
            s.send(m.position_end())
        elif mid == d.CANCEL_POSITIONS:
            s.positions = False
        elif mid == d.REQ_MANAGED_ACCTS:
            s.send(m.managed_accounts([self.account_id]))
        elif mid == d.REQ_CURRENT_TIME:
            s.send(m.current_time(int(self.clock.now().timestamp())))
        elif mid == d.REQ_GLOBAL_CANCEL:
            self.book.global_cancel()
        elif mid == d.REQ_SCANNER_PARAMETERS:
            s.send(m.scanner_parameters(SCANNER_XML))

    def _h_executions(self, s: Session, r: d.ReqExecutions) -> None:
        f: ExecutionFilter = r.filter
        since = parse_filter_time(f.time)
        rows = self.book.executions(f.clientId or None)
        for row in rows:
            if isinstance(row, ExecutionEvent):
                c, ex, cr = row.contract, row.execution, row.commission
            else:
                c, ex, cr = row
            if f.clientId and ex.clientId != f.clientId:
                continue
            if f.acctCode and ex.acctNumber != f.acctCode:
                continue
            if f.symbol and c.symbol != f.symbol:
                continue
            if f.secType and c.secType != f.secType:
                continue
            if f.exchange and ex.exchange != f.exchange and c.exchange != f.exchange:
                continue
            if f.side and ex.side[:1].upper() != f.side[:1].upper() and ex.side != f.side:
                continue
            when = ex.time if isinstance(ex.time, dt.datetime) else None
            if since and when is not None and when < since:
                continue
            s.send(m.exec_details(r.req_id, c, ex, exec_time_text(when or self.clock.now())))
            s.send(m.commission_report(cr))
        s.send(m.exec_details_end(r.req_id))

    def _h_ids(self, s: Session, r: d.ReqIds) -> None:
        s.send(m.next_valid_id(self._next_id(s.client_id or 0)))

    # ---------------------------------------------------------------- account
    def _send_account(self, s: Session, account: str) -> None:
        values = self._account_values()
        for k, v in values.items():
            s.send(m.account_value(k, v, self._ccy(k), self.account_id))
        for c, p, mp, mv, ac, up, rp in self._portfolio_rows():
            s.send(m.portfolio_value(c, p, mp, mv, ac, up, rp, self.account_id))
        s.send(m.account_update_time(self._hhmm()))
        s.send(m.account_download_end(self.account_id))

    def _h_account_updates(self, s: Session, r: d.ReqAccountUpdates) -> None:
        s.account_updates = r.subscribe
        if r.subscribe:
            self._send_account(s, r.account)

    def _h_account_summary(self, s: Session, r: d.ReqAccountSummary) -> None:
        values = self._account_values()
        tags = [t.strip() for t in r.tags.split(",") if t.strip()]
        if "$LEDGER" in tags or "$LEDGER:ALL" in tags or "$LEDGER:USD" in tags:
            tags = list(values)
        s.summaries[r.req_id] = tags
        for t in tags:
            if t in values:
                s.send(m.account_summary(r.req_id, self.account_id, t, values[t], self._ccy(t)))
        s.send(m.account_summary_end(r.req_id))

    def _h_account_multi(self, s: Session, r: d.ReqAccountUpdatesMulti) -> None:
        s.multis[r.req_id] = r.account
        for k, v in self._account_values().items():
            s.send(
                m.account_update_multi(r.req_id, self.account_id, r.model_code, k, v, self._ccy(k))
            )
        s.send(m.account_update_multi_end(r.req_id))

    def _h_cancel_by_id(self, s: Session, r: d.ReqById) -> None:
        if r.msg_id == d.CANCEL_ACCOUNT_SUMMARY:
            s.summaries.pop(r.req_id, None)
        elif r.msg_id == d.CANCEL_ACCOUNT_UPDATES_MULTI:
            s.multis.pop(r.req_id, None)
        elif r.msg_id == d.CANCEL_SCANNER_SUBSCRIPTION:
            s.scanners.discard(r.req_id)

    # ---------------------------------------------------------------- scanner / history
    def _h_scanner(self, s: Session, r: d.ReqScanner) -> None:
        sub = r.subscription
        rows_n = sub.numberOfRows if sub.numberOfRows and sub.numberOfRows > 0 else 50
        above_price = _num(sub.abovePrice)
        above_vol = sub.aboveVolume if sub.aboveVolume not in (None, 2**31 - 1) else None
        results = self.market.scan(sub.scanCode, rows_n, above_price, above_vol)
        rows: list[tuple[Contract, str]] = []
        for item in results[:rows_n]:
            spec = self._find_symbol(item) if isinstance(item, str) else item
            if isinstance(item, Contract):
                rows.append((item, item.symbol))
                continue
            if not hasattr(item, "con_id") and hasattr(item, "symbol"):
                spec = self._find_symbol(item.symbol)
            if spec is None:
                continue
            c = self._stock_contract(spec, "SMART")
            rows.append((c, _get(spec, "trading_class", "") or c.symbol))
        s.scanners.add(r.req_id)
        s.send(m.scanner_data(r.req_id, rows))

    def _h_historical(self, s: Session, r: d.ReqHistoricalData) -> None:
        now = time.monotonic()
        recent = self._hist_recent
        while recent and now - recent[0][0] > 600:
            recent.popleft()
        c = r.contract
        key = (
            c.conId,
            c.symbol,
            c.secType,
            c.exchange,
            r.end,
            r.duration,
            r.bar_size,
            r.what_to_show,
            r.use_rth,
        )
        if any(k == key and now - t < 15 for t, k in recent) or len(recent) >= 60:
            s.error(r.req_id, 162, MSG_162_PACING)
            return
        recent.append((now, key))
        found = self._resolve(c)
        if len(found) != 1:
            s.error(r.req_id, 200, MSG_200)
            return
        inst = found[0]
        if "day" not in r.bar_size.lower():
            s.error(
                r.req_id,
                162,
                "Historical Market Data Service error message:the simulator serves daily bars only",
            )
            return
        days = duration_days(r.duration)
        end = self._parse_end(r.end)
        from engine.market.calendar import to_et

        bars = self.market.historical_bars(inst.contract.symbol, to_et(end).date(), days)
        rows = []
        for b in bars:
            date = _get(b, "date")
            ds = (
                date.strftime("%Y%m%d") if isinstance(date, dt.date) else str(date).replace("-", "")
            )
            o, h, lo, cl = (float(_get(b, k)) for k in ("open", "high", "low", "close"))
            vol = _get(b, "volume", 0) or 0
            wap = _get(b, "wap", _get(b, "average", (h + lo + cl) / 3))
            cnt = _get(b, "bar_count", _get(b, "barCount", 1)) or 1
            rows.append(
                (
                    ds,
                    o,
                    h,
                    lo,
                    cl,
                    _size(vol),
                    float(wap),
                    int(cnt),
                )
            )
        start_txt = rows[0][0] if rows else ""
        end_txt = end.astimezone(UTC).strftime("%Y%m%d %H:%M:%S")
        s.send(m.historical_data(r.req_id, start_txt, end_txt, rows))

    def _parse_end(self, text: str) -> dt.datetime:
        text = text.strip()
        if not text:
            return self.clock.now()
        parsed = parse_filter_time(text)
        return parsed or self.clock.now()

    _handlers: dict[type, Callable[..., None]] = {}


def duration_days(text: str) -> int:
    """`30 D`, `2 W`, `6 M`, `1 Y`, `3600 S` -> calendar days."""
    parts = text.strip().split()
    if len(parts) != 2:
        return 30
    try:
        n = int(parts[0])
    except ValueError:
        return 30
    unit = parts[1].upper()
    return max(1, {"S": n // 86400, "D": n, "W": 7 * n, "M": 31 * n, "Y": 366 * n}.get(unit, n))


SCANNER_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><ScanParameterResponse><InstrumentList>'
    "<Instrument><name>US Stocks</name><type>STK</type></Instrument></InstrumentList>"
    "<LocationTree><Location><displayName>US Stocks</displayName>"
    "<locationCode>STK.US.MAJOR</locationCode></Location></LocationTree><ScanTypeList>"
    "<ScanType><displayName>Top % Gainers</displayName>"
    "<scanCode>TOP_PERC_GAIN</scanCode></ScanType>"
    "<ScanType><displayName>Top % Losers</displayName><scanCode>TOP_PERC_LOSE</scanCode></ScanType>"
    "<ScanType><displayName>Most Active</displayName><scanCode>MOST_ACTIVE</scanCode></ScanType>"
    "<ScanType><displayName>Highest Option Implied Vol</displayName>"
    "<scanCode>HIGH_OPT_IMP_VOLAT</scanCode></ScanType>"
    "<ScanType><displayName>Hot by Option Volume</displayName>"
    "<scanCode>HOT_BY_OPT_VOLUME</scanCode></ScanType>"
    "</ScanTypeList></ScanParameterResponse>"
)

SimGateway._handlers = {
    d.ReqMktData: SimGateway._h_mkt_data,
    d.CancelMktData: SimGateway._h_cancel_mkt,
    d.ReqMarketDataType: SimGateway._h_market_data_type,
    d.ReqContractDetails: SimGateway._h_contract_details,
    d.ReqSecDefOptParams: SimGateway._h_sec_def,
    d.PlaceOrder: SimGateway._h_place,
    d.CancelOrder: SimGateway._h_cancel,
    d.Simple: SimGateway._h_simple,
    d.ReqExecutions: SimGateway._h_executions,
    d.ReqIds: SimGateway._h_ids,
    d.ReqAccountUpdates: SimGateway._h_account_updates,
    d.ReqAccountSummary: SimGateway._h_account_summary,
    d.ReqAccountUpdatesMulti: SimGateway._h_account_multi,
    d.ReqById: SimGateway._h_cancel_by_id,
    d.ReqScanner: SimGateway._h_scanner,
    d.ReqHistoricalData: SimGateway._h_historical,
}
