"""Market services: `engine.domain.MarketData` over ib_async, paced and cached.

Every request goes through the pacer (priority + back-pressure) and ends within
`request_timeout` or raises `BrokerError`. What does not change within a day (contract ids,
sectors, option parameters, an expiry's listed strikes) is cached per UTC day, so a rescan only
asks IBKR for quotes, greeks and what-if margin. Option quotes stream (generic ticks 100, 101,
106) for a batch that fits the market-data-line budget, wait for bid/ask/model greeks, then
cancel; fields that did not arrive in time are listed in `Quote.missing`. Underlying quotes,
and option quotes that need no open interest (`option_snapshots`), are snapshots: one message,
no generic ticks, nothing to cancel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ib_async import Contract, Index, LimitOrder, Option, Stock
from ib_async.objects import Position
from ib_async.order import Trade
from ib_async.ticker import Ticker
from ib_async.wrapper import RequestError

from engine.broker.errors import BrokerError, reason_for_ib_error
from engine.broker.pacing import Priority
from engine.broker.session import ConnState, Session
from engine.domain import (
    INDEX_SYMBOLS,
    AccountSnapshot,
    MarginImpact,
    MarketDataType,
    OptionChainInfo,
    OptionRef,
    Quote,
    Underlying,
)
from engine.text import usd

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Symbols qualified as CBOE indexes rather than stocks.
INDEXES = INDEX_SYMBOLS
OPTION_GENERIC_TICKS = "100,101,106"
REQUIRED_OPTION_FIELDS = ("bid", "ask", "delta")
SUMMARY_TAGS = (
    "NetLiquidation",
    "EquityWithLoanValue",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "BuyingPower",
    "Cushion",
)


def _num(x: Any) -> float | None:
    """ib_async's nan / None / IBKR sentinels (-1 price, -2 greek) -> None."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f) or f == -2.0:
        return None
    return f


def _price(x: Any) -> float | None:
    f = _num(x)
    return None if f is None or f < 0 else f


#: An "account" event is published when a money figure moved by this fraction of net
#: liquidation (0.1 %), or any figure changed and ACCOUNT_EVENT_QUIET passed since the last.
ACCOUNT_EVENT_MOVE = Decimal("0.001")
ACCOUNT_EVENT_QUIET = dt.timedelta(minutes=15)


def account_change_matters(
    last: dict[str, str] | None,
    figures: dict[str, str],
    last_time: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Whether a new account summary is worth an "account" event (kept in the activity log
    and the database): the first one; a money figure moved by ACCOUNT_EVENT_MOVE of net
    liquidation (a fill, an assignment, a market move); or anything changed after
    ACCOUNT_EVENT_QUIET. A held option's mark moving a few dollars is not news every poll."""
    if last is None or last_time is None:
        return True
    if figures == last:
        return False
    if now - last_time >= ACCOUNT_EVENT_QUIET:
        return True
    nlv = abs(_dec(figures.get("NetLiquidation")) or Decimal(0))
    step = max(nlv * ACCOUNT_EVENT_MOVE, Decimal("1"))
    for tag, value in figures.items():
        if tag == "Cushion":
            continue
        a, b = _dec(value), _dec(last.get(tag))
        if a is None or b is None or abs(a - b) >= step:
            return True
    return False


def quote_from_ticker(
    ticker: Ticker, con_id: int, right: str | None, now: dt.datetime, required: tuple[str, ...]
) -> Quote:
    """Build a Quote from an ib_async Ticker; `required` fields still unset go to `missing`."""
    g = ticker.modelGreeks
    oi = ticker.putOpenInterest if right == "P" else ticker.callOpenInterest
    if _num(oi) is None:
        oi = ticker.openInterest
    vol = ticker.volume
    if _num(vol) is None:
        vol = ticker.putVolume if right == "P" else ticker.callVolume
    iv = _num(g.impliedVol) if g is not None else None
    if iv is None:
        iv = _num(ticker.impliedVolatility)
    q = Quote(
        con_id=con_id,
        bid=_price(ticker.bid),
        ask=_price(ticker.ask),
        last=_price(ticker.last),
        bid_size=_num(ticker.bidSize),
        ask_size=_num(ticker.askSize),
        volume=_num(vol),
        open_interest=_num(oi),
        iv=iv,
        delta=_num(g.delta) if g is not None else None,
        gamma=_num(g.gamma) if g is not None else None,
        theta=_num(g.theta) if g is not None else None,
        vega=_num(g.vega) if g is not None else None,
        underlying_price=_price(g.undPrice) if g is not None else None,
        market_data_type=_mdt(ticker.marketDataType),
        time=now,
    )
    missing = tuple(f for f in required if not _arrived(ticker, f))
    if missing:
        q = Quote(**{**q.__dict__, "missing": missing})
    return q


def _mdt(x: int) -> MarketDataType:
    try:
        return MarketDataType(int(x))
    except (TypeError, ValueError):
        return MarketDataType.LIVE


#: Ticker fields a new stream must deliver afresh. ib_async keeps one Ticker per contract
#: and hands the same object to a later reqMktData, so without a reset an earlier stream's
#: prices would satisfy the "fields arrived" wait at once and be reported as current.
_STREAM_FIELDS = (
    "bid", "bidSize", "ask", "askSize", "last", "lastSize", "close", "volume",
    "putOpenInterest", "callOpenInterest", "openInterest", "putVolume", "callVolume",
    "impliedVolatility", "histVolatility",
)  # fmt: skip
_GREEK_FIELDS = ("bidGreeks", "askGreeks", "lastGreeks", "modelGreeks")


def _forget_stale_values(ticker: Ticker | None) -> None:
    """Clear what an ended stream left on ib_async's cached Ticker before re-requesting it."""
    if ticker is None:
        return
    for name in _STREAM_FIELDS:
        setattr(ticker, name, math.nan)
    for name in _GREEK_FIELDS:
        setattr(ticker, name, None)
    ticker.time = None


def _arrived(ticker: Ticker, name: str) -> bool:
    if name in ("bid", "ask", "last"):
        return _num(getattr(ticker, name)) is not None
    if name == "price":
        return any(_price(getattr(ticker, f)) is not None for f in ("last", "bid", "close"))
    g = ticker.modelGreeks
    return g is not None and _num(getattr(g, name, None)) is not None


def _dec(s: Any) -> Decimal | None:
    if s is None:
        return None
    try:
        d = Decimal(str(s))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


class MarketServices:
    """The broker side of selection and execution (implements engine.domain.MarketData)."""

    def __init__(
        self,
        session: Session,
        *,
        request_timeout: float | None = None,
        quote_timeout: float = 6.0,
        snapshot_timeout: float = 12.0,
        batch_size: int = 40,
        sector_overrides: dict[str, str] | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ):
        self.session = session
        self.pacer = session.pacer
        self.ib = session.ib
        self.request_timeout = request_timeout or session.cfg.request_timeout_s
        self.quote_timeout = quote_timeout
        self.snapshot_timeout = snapshot_timeout
        self.batch_size = max(1, min(batch_size, self.pacer.max_lines))
        self.sector_overrides = {k.upper(): v for k, v in (sector_overrides or {}).items()}
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._cache_day: dt.date | None = None
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._streams: dict[int, tuple[Contract, str]] = {}
        self._stream_refs: dict[int, int] = {}  # concurrent batches share one stream
        self._snapshots_in_flight: dict[int, asyncio.Future[None]] = {}
        #: when the last "account" event was published, and its figures
        self._last_account: tuple[dt.datetime, dict[str, str]] | None = None
        self.requests = 0
        session.ib.RaiseRequestErrors = True
        session.add_resubscriber("market-data streams", self._resubscribe)

    # -- helpers -----------------------------------------------------------------------------
    def _day_cache(self) -> dict[tuple[Any, ...], Any]:
        today = self._now().date()
        if self._cache_day != today:
            self._cache.clear()
            self._cache_day = today
        return self._cache

    def _need_connection(self) -> None:
        if not self.session.connected:
            _ok, why = self.session.data_allowed()
            raise BrokerError(why)

    def _need_data(self) -> None:
        allowed, why = self.session.data_allowed()
        if not allowed:
            raise BrokerError(why)

    async def _call(self, priority: Priority, make: Callable[[], Awaitable[T]], what: str) -> T:
        """Send one request at `priority` and wait for its answer within the timeout."""
        self._need_connection()
        async with self.pacer.message(priority):
            self._need_connection()
            fut = make()
        self.requests += 1
        try:
            return await asyncio.wait_for(fut, self.request_timeout)
        except TimeoutError:
            raise BrokerError.of(
                "broker.timeout", f"{what}: no answer from IBKR within {self.request_timeout:g}s"
            ) from None
        except RequestError as exc:
            raise BrokerError(reason_for_ib_error(exc.code, exc.message)) from None
        except ConnectionError as exc:
            raise BrokerError.of("session.disconnected", f"{what}: {exc}") from None

    # -- MarketData --------------------------------------------------------------------------
    async def qualify_underlying(self, symbol: str) -> Underlying:
        symbol = symbol.strip().upper()
        cache = self._day_cache()
        key = ("und", symbol)
        if key in cache:
            return cache[key]  # type: ignore[no-any-return,unused-ignore]
        contract: Contract = (
            Index(symbol, "CBOE", "USD") if symbol in INDEXES else Stock(symbol, "SMART", "USD")
        )
        details = await self._call(
            Priority.CONTROL,
            lambda: self.ib.reqContractDetailsAsync(contract),
            f"contract details for {symbol}",
        )
        matches = [d for d in details if d.contract and d.contract.secType == contract.secType]
        if not matches:
            raise BrokerError.of(
                "broker.unknown_symbol", f"IBKR knows no {contract.secType} {symbol}"
            )
        d = matches[0]
        c = d.contract
        assert c is not None
        sector = self.sector_overrides.get(symbol) or d.industry or d.category or "Unknown"
        und = Underlying(
            symbol=symbol,
            con_id=int(c.conId),
            sec_type=c.secType,
            exchange="SMART" if c.secType == "STK" else (c.exchange or "CBOE"),
            primary_exchange=c.primaryExchange,
            currency=c.currency or "USD",
            sector=sector,
            industry=d.industry,
            long_name=d.longName,
        )
        cache[key] = und
        return und

    def _und_contract(self, und: Underlying) -> Contract:
        if und.sec_type == "IND":
            return Index(und.symbol, und.exchange, und.currency, conId=und.con_id)
        return Stock(und.symbol, "SMART", und.currency, conId=und.con_id)

    async def underlying_quote(self, und: Underlying) -> Quote:
        """A snapshot (one message, no cancel, no generic ticks); it shares a stream already
        open for the same contract instead."""
        items: list[tuple[int, Contract, str | None]] = [
            (und.con_id, self._und_contract(und), None)
        ]
        quotes = await self._snapshot_batch(items, ("price",))
        return quotes[und.con_id]

    async def daily_closes(self, und: Underlying, duration: str) -> list[tuple[dt.date, float]]:
        """Daily closes (regular hours, oldest first) over `duration` (IBKR's durationStr,
        e.g. "5 D", "1 Y") ending now: one historical-data request. Bars without a positive
        close are dropped."""
        bars = await self._call(
            Priority.CONTROL,
            lambda: self.ib.reqHistoricalDataAsync(
                self._und_contract(und),
                endDateTime="",
                durationStr=duration,
                barSizeSetting="1 day",
                whatToShow="TRADES",
                useRTH=True,
            ),
            f"daily bars for {und.symbol}",
        )
        out: list[tuple[dt.date, float]] = []
        for bar in bars or []:
            close = _price(bar.close)
            if close is None or close <= 0:
                continue
            day = bar.date.date() if isinstance(bar.date, dt.datetime) else bar.date
            out.append((day, close))
        out.sort(key=lambda t: t[0])
        return out

    async def option_chain(self, und: Underlying) -> list[OptionChainInfo]:
        cache = self._day_cache()
        key = ("chain", und.con_id)
        if key in cache:
            return list(cache[key])
        params = await self._call(
            Priority.CONTROL,
            lambda: self.ib.reqSecDefOptParamsAsync(und.symbol, "", und.sec_type, und.con_id),
            f"option parameters for {und.symbol}",
        )
        out = [
            OptionChainInfo(
                symbol=und.symbol,
                underlying_con_id=int(p.underlyingConId),
                trading_class=p.tradingClass,
                multiplier=int(float(p.multiplier or 100)),
                expirations=tuple(sorted(p.expirations)),
                strikes=tuple(sorted(float(s) for s in p.strikes)),
            )
            for p in params
            if p.exchange == "SMART"
        ]
        if not out:
            raise BrokerError.of("broker.no_chain", f"IBKR lists no SMART options for {und.symbol}")
        cache[key] = tuple(out)
        return out

    async def expiry_strikes(
        self, und: Underlying, expiry: str, trading_class: str, right: str = "P"
    ) -> list[OptionRef]:
        cache = self._day_cache()
        key = ("strikes", und.con_id, expiry, trading_class, right)
        if key in cache:
            return list(cache[key])
        refs = await self._option_details(
            und, expiry, 0.0, trading_class, right, f"{und.symbol} {expiry} {trading_class} strikes"
        )
        if not refs:
            raise BrokerError.of(
                "broker.no_strikes", f"IBKR lists no {right} strikes for {und.symbol} {expiry}"
            )
        cache[key] = tuple(refs)
        return refs

    async def strike_contracts(
        self, und: Underlying, strike: float, trading_class: str, right: str = "P"
    ) -> list[OptionRef]:
        """Every listed contract of one strike, across all expiries (one contract-details
        request, cached per day); empty when no expiry lists it."""
        cache = self._day_cache()
        key = ("strike", und.con_id, strike, trading_class, right)
        if key in cache:
            return list(cache[key])
        refs = await self._option_details(
            und, "", strike, trading_class, right, f"{und.symbol} {strike:g}{right} contracts"
        )
        cache[key] = tuple(refs)
        return refs

    async def _option_details(
        self,
        und: Underlying,
        expiry: str,
        strike: float,
        trading_class: str,
        right: str,
        what: str,
    ) -> list[OptionRef]:
        """Listed options matching a partial contract (empty expiry or strike 0 = any)."""
        probe = Option(
            und.symbol,
            expiry,
            strike,
            right,
            "SMART",
            currency=und.currency,
            tradingClass=trading_class,
        )
        details = await self._call(
            Priority.CONTROL, lambda: self.ib.reqContractDetailsAsync(probe), what
        )
        return sorted(
            (
                OptionRef(
                    symbol=und.symbol,
                    expiry=d.contract.lastTradeDateOrContractMonth[:8],
                    strike=float(d.contract.strike),
                    right=d.contract.right,
                    con_id=int(d.contract.conId),
                    trading_class=d.contract.tradingClass or trading_class,
                    multiplier=int(float(d.contract.multiplier or 100)),
                )
                for d in details
                if d.contract is not None
                and d.contract.right == right
                and (not expiry or d.contract.lastTradeDateOrContractMonth[:8] == expiry)
            ),
            key=lambda r: (r.expiry, r.strike),
        )

    async def option_quotes(self, options: list[OptionRef]) -> dict[int, Quote]:
        out: dict[int, Quote] = {}
        items: list[tuple[int, Contract, str | None]] = [
            (o.con_id, self.option_contract(o), o.right) for o in options
        ]
        for i in range(0, len(items), self.batch_size):
            out.update(
                await self._stream_batch(
                    items[i : i + self.batch_size], OPTION_GENERIC_TICKS, REQUIRED_OPTION_FIELDS
                )
            )
        return out

    async def option_snapshots(self, options: list[OptionRef]) -> dict[int, Quote]:
        """One snapshot per option: bid/ask/last/volume and model greeks, but no generic ticks,
        so no open interest (one message each, no cancel). Enough to reject a strike on price
        or delta; a strike that may pass needs `option_quotes`. `missing` lists what did not
        arrive of bid, ask and delta."""
        out: dict[int, Quote] = {}
        items: list[tuple[int, Contract, str | None]] = [
            (o.con_id, self.option_contract(o), o.right) for o in options
        ]
        for i in range(0, len(items), self.batch_size):
            out.update(
                await self._snapshot_batch(items[i : i + self.batch_size], REQUIRED_OPTION_FIELDS)
            )
        return out

    @staticmethod
    def option_contract(o: OptionRef) -> Contract:
        return Option(
            o.symbol,
            o.expiry,
            o.strike,
            o.right,
            o.exchange,
            multiplier=str(o.multiplier),
            currency="USD",
            tradingClass=o.trading_class,
            conId=o.con_id,
        )

    async def _stream_batch(
        self,
        items: list[tuple[int, Contract, str | None]],
        generic: str,
        required: tuple[str, ...],
    ) -> dict[int, Quote]:
        """Stream a batch within the line budget, wait for `required`, cancel, build quotes."""
        self._need_data()
        connects = self.session.connects
        tickers: dict[int, Ticker] = {}
        async with self.pacer.lines(len(items)):
            try:
                for con_id, contract, _right in items:
                    if con_id in tickers:
                        continue
                    self._need_data()
                    active = self._streams.get(con_id)
                    shared = self.ib.ticker(active[0]) if active is not None else None
                    if shared is not None:
                        tickers[con_id] = shared
                        self._stream_refs[con_id] += 1
                        continue
                    if con_id not in self._snapshots_in_flight:  # its reset is fresh
                        _forget_stale_values(self.ib.ticker(contract))
                    async with self.pacer.message(Priority.QUOTES):
                        tickers[con_id] = self.ib.reqMktData(contract, generic, False, False)
                    self._streams[con_id] = (contract, generic)
                    self._stream_refs[con_id] = 1
                    self.requests += 1
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.quote_timeout
                rights = {c: r for c, _k, r in items}
                while loop.time() < deadline:
                    if self.session.connects != connects or not self.session.connected:
                        raise BrokerError.of(
                            "session.disconnected", "connection to IBKR lost while quoting"
                        )
                    if self.session.state == ConnState.DATA_UNAVAILABLE:
                        break
                    if all(
                        all(_arrived(self._ticker(c, t), f) for f in required)
                        for c, t in tickers.items()
                    ):
                        break
                    await asyncio.sleep(0.02)
            finally:
                await self._cancel_streams(list(tickers))
        if self.session.connects != connects:
            raise BrokerError.of("session.disconnected", "connection to IBKR lost while quoting")
        now = self._now()
        quotes = {
            c: quote_from_ticker(self._ticker(c, t), c, rights.get(c), now, required)
            for c, t in tickers.items()
        }
        self._note_quality(quotes)
        return quotes

    async def _snapshot_batch(
        self, items: list[tuple[int, Contract, str | None]], required: tuple[str, ...]
    ) -> dict[int, Quote]:
        """Snapshots (reqMktData snapshot=True, no generic ticks) for a batch: one message
        each, each line freed by tickSnapshotEnd, so nothing to cancel. Contracts with a
        stream open are read from that stream instead, and a contract whose snapshot is
        already in flight waits for that answer (ib_async keeps one Ticker per contract).
        Market data type and time are those of the answer, as for a stream."""
        shared = [it for it in items if it[0] in self._streams]
        items = [it for it in items if it[0] not in self._streams]
        waiting = [it for it in items if it[0] in self._snapshots_in_flight]
        items = [it for it in items if it[0] not in self._snapshots_in_flight]
        out: dict[int, Quote] = {}
        if shared:
            out.update(await self._stream_batch(shared, "", required))
        if items:
            out.update(await self._snapshot_requests(items, required))
        for con_id, contract, right in waiting:
            done = self._snapshots_in_flight.get(con_id)
            if done is not None:
                await asyncio.shield(done)
            ticker = self.ib.ticker(contract)
            if ticker is not None:
                out[con_id] = quote_from_ticker(ticker, con_id, right, self._now(), required)
        return out

    async def _snapshot_requests(
        self, items: list[tuple[int, Contract, str | None]], required: tuple[str, ...]
    ) -> dict[int, Quote]:
        self._need_data()
        connects = self.session.connects
        tickers: dict[int, Ticker] = {}
        futures: list[asyncio.Future[Any]] = []
        ib = self.ib
        loop = asyncio.get_running_loop()
        mine: dict[int, asyncio.Future[None]] = {}
        async with self.pacer.lines(len(items)):
            try:
                for con_id, contract, _right in items:
                    if con_id in tickers:
                        continue
                    self._need_data()
                    mine[con_id] = self._snapshots_in_flight[con_id] = loop.create_future()
                    _forget_stale_values(ib.ticker(contract))
                    async with self.pacer.message(Priority.QUOTES):
                        self._need_connection()
                        req_id = ib.client.getReqId()
                        futures.append(ib.wrapper.startReq(req_id, contract))
                        tickers[con_id] = ib.wrapper.startTicker(req_id, contract, "snapshot")
                        ib.client.reqMktData(req_id, contract, "", True, False, [])
                    self.requests += 1
                # tickSnapshotEnd ends each request; an error for one ends it too
                await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), self.snapshot_timeout
                )
            except TimeoutError:
                log.info(
                    "%d of %d snapshots unanswered",
                    sum(not f.done() for f in futures),
                    len(futures),
                )
            finally:
                for t in tickers.values():
                    ib.wrapper.endTicker(t, "snapshot")
                for con_id, done in mine.items():
                    self._snapshots_in_flight.pop(con_id, None)
                    done.set_result(None)
        if self.session.connects != connects or not self.session.connected:
            raise BrokerError.of("session.disconnected", "connection to IBKR lost while quoting")
        now = self._now()
        rights = {c: r for c, _k, r in items}
        quotes = {
            c: quote_from_ticker(t, c, rights.get(c), now, required) for c, t in tickers.items()
        }
        self._note_quality(quotes)
        return quotes

    def _note_quality(self, quotes: dict[int, Quote]) -> None:
        """Tell the session data flows (and its type), or raise when it cannot."""
        if any(not q.missing for q in quotes.values()):
            self.session.note_data_ok()
            for q in quotes.values():
                self.session.note_market_data_type(int(q.market_data_type))
        elif self.session.state == ConnState.DATA_UNAVAILABLE:
            _ok, why = self.session.data_allowed()
            raise BrokerError(why)

    def _ticker(self, con_id: int, fallback: Ticker) -> Ticker:
        entry = self._streams.get(con_id)
        if entry is None:
            return fallback
        t = self.ib.ticker(entry[0])
        return t if t is not None else fallback

    async def _cancel_streams(self, con_ids: list[int]) -> None:
        for con_id in con_ids:
            refs = self._stream_refs.get(con_id, 0) - 1
            if refs > 0:
                self._stream_refs[con_id] = refs
                continue
            self._stream_refs.pop(con_id, None)
            entry = self._streams.pop(con_id, None)
            if entry is None or not self.session.connected:
                continue
            async with self.pacer.message(Priority.CONTROL):
                if self.session.connected:
                    self.ib.cancelMktData(entry[0])

    async def _resubscribe(self) -> None:
        """After 1101 (data lost) re-request the streams in flight; after a reconnect the
        batch in flight fails instead (its tickers belong to the old connection)."""
        for con_id, (contract, generic) in list(self._streams.items()):
            if not self.session.connected:
                return
            async with self.pacer.message(Priority.QUOTES):
                if self.ib.ticker(contract) is not None:
                    self.ib.cancelMktData(contract)
            async with self.pacer.message(Priority.QUOTES):
                self.ib.reqMktData(contract, generic, False, False)
            self._streams[con_id] = (contract, generic)

    async def what_if(self, option: OptionRef, quantity: int, limit: Decimal) -> MarginImpact:
        if quantity < 1:
            raise BrokerError.of("broker.bad_request", "what-if quantity must be at least 1")
        order = LimitOrder(
            "SELL",
            quantity,
            float(limit),
            transmit=True,
            tif="DAY",
            account=self.session.account or "",
        )
        contract = self.option_contract(option)
        state = await self._call(
            Priority.WHAT_IF,
            lambda: self.ib.whatIfOrderAsync(contract, order),
            f"what-if for {option.symbol} {option.expiry} {option.strike:g}{option.right}",
        )
        if not state or not hasattr(state, "numeric"):
            raise BrokerError.of("broker.what_if_failed", "IBKR returned no what-if result")
        init = _dec(state.initMarginChange)
        maint = _dec(state.maintMarginChange)
        if init is None or maint is None or float(init) >= 1e300:
            raise BrokerError.of(
                "broker.what_if_incomplete", "IBKR's what-if answer carried no margin figures"
            )
        ewl = _dec(state.equityWithLoanAfter)
        comm = _dec(state.commission)
        return MarginImpact(
            init_margin_change=init,
            maint_margin_change=maint,
            equity_with_loan_after=ewl if ewl is not None and float(ewl) < 1e300 else None,
            commission=comm if comm is not None and float(comm) < 1e300 else None,
            warning=state.warningText or "",
            time=self._now(),
        )

    async def scanner_symbols(
        self, code: str, rows: int, min_price: float, min_volume: int
    ) -> list[str]:
        """Symbols from an IBKR market-scanner subscription (US major stocks), in IBKR's rank
        order; the subscription is cancelled once the first answer arrives."""
        from ib_async.objects import ScannerSubscription

        sub = ScannerSubscription(
            instrument="STK",
            locationCode="STK.US.MAJOR",
            scanCode=code,
            numberOfRows=max(1, min(rows, 50)),
            abovePrice=min_price,
            aboveVolume=min_volume,
        )
        self._need_data()
        rows_out = await self._call(
            Priority.SCANNER, lambda: self.ib.reqScannerDataAsync(sub), f"scanner {code}"
        )
        seen: list[str] = []
        for row in rows_out:
            contract = row.contractDetails.contract
            symbol = (contract.symbol or "").upper() if contract is not None else ""
            if symbol and symbol not in seen:
                seen.append(symbol)
        return seen

    async def account_snapshot(self) -> AccountSnapshot:
        account = self.session.account
        if not account:
            raise BrokerError.of("session.no_account", "no account confirmed by IBKR yet")
        ib = self.ib
        for k in [k for k in ib.wrapper.acctSummary if k[0] == account]:
            del ib.wrapper.acctSummary[k]
        req: dict[str, int] = {}

        def start() -> Awaitable[Any]:
            req_id = ib.client.getReqId()
            req["id"] = req_id
            fut = ib.wrapper.startReq(req_id)
            ib.client.reqAccountSummary(req_id, "All", ",".join(SUMMARY_TAGS))
            return fut

        try:
            await self._call(Priority.CONTROL, start, "account summary")
        finally:
            if "id" in req and self.session.connected:
                async with self.pacer.message(Priority.CONTROL):
                    if self.session.connected:
                        ib.client.cancelAccountSummary(req["id"])
        vals: dict[str, str] = {}
        for (acct, tag, cur), v in ib.wrapper.acctSummary.items():
            if (
                acct == account
                and tag in SUMMARY_TAGS
                and (cur in ("USD", "BASE", "") or tag == "Cushion")
            ):
                vals[tag] = v.value
        missing = [t for t in SUMMARY_TAGS if _dec(vals.get(t)) is None]
        if missing:
            raise BrokerError.of(
                "broker.account_incomplete",
                f"account summary for {account} lacks {', '.join(missing)}",
            )

        def d(tag: str) -> Decimal:
            v = _dec(vals[tag])
            assert v is not None
            return v

        snap = AccountSnapshot(
            account=account,
            net_liquidation=d("NetLiquidation"),
            equity_with_loan=d("EquityWithLoanValue"),
            full_init_margin=d("FullInitMarginReq"),
            full_maint_margin=d("FullMaintMarginReq"),
            available_funds=d("AvailableFunds"),
            excess_liquidity=d("ExcessLiquidity"),
            buying_power=d("BuyingPower"),
            cushion=float(d("Cushion")),
            time=self._now(),
        )
        figures = {t: vals[t] for t in SUMMARY_TAGS}
        last = self._last_account
        if account_change_matters(
            last[1] if last else None, figures, last[0] if last else None, snap.time
        ):
            self._last_account = (snap.time, figures)
            self.session.bus.publish(
                "account",
                f"{account}: net liquidation {usd(snap.net_liquidation)}, "
                f"maintenance margin {usd(snap.full_maint_margin)}",
                data={"account": account, "time": snap.time.isoformat(), **figures},
            )
        return snap

    # -- portfolio ---------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        """Positions of the session's account (kept in sync by ib_async since connect)."""
        self._need_connection()
        return [
            p
            for p in self.ib.positions()
            if not self.session.account or p.account == self.session.account
        ]

    def open_orders(self) -> list[Trade]:
        """Open orders of this client (re-synced at every connect)."""
        self._need_connection()
        return list(self.ib.openTrades())
