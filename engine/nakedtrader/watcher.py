"""NakedTrader's watcher: fills, bracket children, expiry and settlement -> trades rows.

`NtWatcher.sync(now)` runs the shared execution Watcher (fills and commissions booked once
per exec_id; a child fill closes the trade with exit price, commission and net P&L) over
NakedTrader's orders only, then:
- keeps `bracket_status` current: pending -> entry_working -> working (children live) ->
  take_profit_filled / stop_filled, or unprotected when the position is open and no child
  works; an entry cancelled or rejected unfilled closes the row as cancelled / rejected;
- after the close of the expiry session, once IBKR no longer holds the option: the settlement
  price is the underlying's close that day (IBKR's daily bar; the live quote as a fallback).
  SPX/XSP are cash-settled (expired worthless, or closed at the intrinsic value when in the money);
  SPY expires worthless or is assigned (stock appears; the option leg closes at 0 as IBKR
  books it). Children still working for a settled trade are cancelled.
Each pass is idempotent: running it again with the same facts changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.domain import MarketData, Reason
from engine.execution.intents import IntentRepo
from engine.execution.ports import BrokerOrder, BrokerPosition, OrderPort
from engine.execution.records import Recorder
from engine.execution.watcher import Watcher, exit_protection
from engine.nakedtrader.chain import underlying_price_of
from engine.nakedtrader.recorder import STRATEGY, NtRecorder
from engine.store.db import Store
from engine.store.trades import TradeRow

CASH_SETTLED = frozenset({"SPX", "XSP"})
CANCELLED = frozenset({"Cancelled", "ApiCancelled"})
WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted"})
CENT = Decimal("0.01")
#: (symbol, session date) -> the underlying's official close that day, or None.
ClosingPrice = Callable[[str, dt.date], Awaitable[float | None]]


@dataclass
class WatchReport:
    fills: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    bracket_changes: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fills": self.fills,
            "opened": self.opened,
            "closed": self.closed,
            "cancelled": self.cancelled,
            "bracket_changes": [list(x) for x in self.bracket_changes],
        }


def live_bracket_status(
    entry: BrokerOrder | None, tp: BrokerOrder | None, sl: BrokerOrder | None, status: str
) -> tuple[str, str] | None:
    """(trade status, bracket status) of a live trade from its orders, or None to leave it."""
    if status == "pending":
        if entry is None:
            return None
        if entry.filled == 0 and entry.status in CANCELLED:
            return "cancelled", "entry_cancelled"
        if entry.filled == 0 and entry.status == "Inactive":
            return "rejected", "entry_rejected"
        return "pending", "entry_working"
    if status == "open":  # the same reading of the exits as the execution watcher's
        state = exit_protection([tp] if tp else [], [sl] if sl else [])
        return None if state is None else ("open", state)
    return None


def settlement(
    trade: TradeRow, settle_price: float | None, stock_qty: int
) -> tuple[str, Decimal, Reason]:
    """How an expired short put leaves the book: (exit_reason, exit price per share, Reason)."""
    strike = trade.strike or Decimal(0)
    itm = settle_price is not None and Decimal(str(settle_price)) < strike
    if trade.symbol in CASH_SETTLED:
        if itm:
            assert settle_price is not None
            intrinsic = (strike - Decimal(str(settle_price))).quantize(CENT)
            return (
                "cash_settled",
                intrinsic,
                Reason(
                    "nt.cash_settled",
                    f"{trade.symbol} settled at {settle_price:g} under the {strike} strike: "
                    f"cash-settled at {intrinsic}",
                ),
            )
        return (
            "expired",
            Decimal(0),
            Reason(
                "nt.expired", f"{trade.symbol} {strike}P expired worthless (settle {settle_price})"
            ),
        )
    if stock_qty >= trade.quantity * trade.multiplier or (itm and stock_qty > 0):
        return (
            "assigned",
            Decimal(0),
            Reason(
                "nt.assigned",
                f"{trade.symbol} {strike}P assigned: {stock_qty} shares bought at {strike}",
            ),
        )
    return (
        "expired",
        Decimal(0),
        Reason("nt.expired", f"{trade.symbol} {strike}P expired worthless (settle {settle_price})"),
    )


class NtWatcher:
    """Brings NakedTrader's trades in line with IBKR (see the module docstring)."""

    def __init__(
        self,
        port: OrderPort,
        store: Store,
        account_id: str | None,
        *,
        calendar: Any,
        md: MarketData | None = None,
        cancel: Callable[[str], Awaitable[None]] | None = None,
        closing_price: ClosingPrice | None = None,
    ):
        self.port = port
        self.store = store
        self.account_id = account_id
        self.calendar = calendar
        self.md = md
        self.cancel = cancel
        self.closing_price = closing_price
        self.recorder = NtRecorder(store, account_id)
        self.settle_prices: dict[tuple[str, dt.date], float] = {}
        self._known: dict[int, str] = {}  # trade id -> status at the last pass

    def track(self, trade_id: int, status: str = "pending") -> None:
        """Follow a trade from `status` on (called when its bracket is sent)."""
        self._known.setdefault(trade_id, status)

    async def sync(self, now: dt.datetime) -> WatchReport:
        report = WatchReport()
        for t in await self.recorder.live_trades():
            self._known.setdefault(t.id, t.status)
        acct = self.account_id or ""
        base = Watcher(
            self.port,
            IntentRepo(self.store, acct),
            Recorder(self.store, acct, None),
            strategy=STRATEGY,
        )
        sync = await base.sync(now)
        report.fills = len(sync.new_fills)
        by_ref = sync.by_ref()
        # transitions since the last pass, whoever booked them (this watcher or execution's)
        for t in await self.recorder.trades.trades_since(None, strategy=STRATEGY):
            prev = self._known.get(t.id)
            if prev is None:
                continue
            if prev == "pending" and t.status in ("open", "closed"):
                report.opened.append(t.id)
                await self._entry_time_from_fills(t.id)
            if prev != "closed" and t.status == "closed":
                report.closed.append(self._closed_view(t))
            self._known[t.id] = t.status
        for t in await self.recorder.live_trades():
            ref = t.entry_order_ref or ""
            new = live_bracket_status(
                by_ref.get(ref), by_ref.get(f"{ref}-tp"), by_ref.get(f"{ref}-sl"), t.status
            )
            if new is None or (new[0] == t.status and new[1] == t.bracket_status):
                continue
            await self.recorder.mark(t.id, status=new[0], bracket_status=new[1])
            self._known[t.id] = new[0]
            report.bracket_changes.append((t.id, new[1]))
            if new[0] in ("cancelled", "rejected"):
                report.cancelled.append(t.id)
        await self._settle(now, report, by_ref)
        return report

    async def _entry_time_from_fills(self, trade_id: int) -> None:
        """The trade's entry time becomes its first sale's execution time."""
        row = await self.store.fetchone(
            "SELECT MIN(time) AS t FROM executions WHERE trade_id=? AND side='SLD'", (trade_id,)
        )
        if row and row["t"]:
            await self.recorder.trades.set_trade_fields(trade_id, entry_time=row["t"])

    @staticmethod
    def _closed_view(t: TradeRow) -> dict[str, Any]:
        return {
            "trade_id": t.id,
            "exit_reason": t.exit_reason,
            "exit_price": None if t.exit_price is None else format(t.exit_price, "f"),
            "commission": format(t.commission, "f"),
            "net_pnl": None if t.net_pnl is None else format(t.net_pnl, "f"),
        }

    async def _settle_price(self, symbol: str, day: dt.date) -> float | None:
        key = (symbol, day)
        if key in self.settle_prices:
            return self.settle_prices[key]
        price: float | None = None
        if self.closing_price is not None:
            price = await self.closing_price(symbol, day)
        if price is None and self.md is not None:
            und = await self.md.qualify_underlying(symbol)
            price = underlying_price_of(await self.md.underlying_quote(und))
        if price is not None:
            self.settle_prices[key] = price
        return price

    async def _settle(
        self, now: dt.datetime, report: WatchReport, by_ref: dict[str, BrokerOrder]
    ) -> None:
        due = []
        for t in await self.recorder.live_trades():
            if t.status != "open" or not t.expiry:
                continue
            day = dt.datetime.strptime(t.expiry[:8], "%Y%m%d").date()
            if not self.calendar.is_session(day):
                day = self.calendar.session_on_or_before(day)
            close = self.calendar.session_close(day)
            if now >= close:
                due.append((t, day, close))
        if not due:
            return
        positions: list[BrokerPosition] = await self.port.positions()
        held = {p.con_id for p in positions if p.quantity != 0}
        stock = {p.symbol: p.quantity for p in positions if p.sec_type == "STK"}
        for t, day, close in due:
            if t.con_id in held:
                continue  # IBKR has not processed the expiry yet
            price = await self._settle_price(t.symbol, day)
            reason, exit_price, why = settlement(t, price, stock.get(t.symbol, 0))
            closed = await self.recorder.trades.close_trade(t.id, exit_price, close, reason)
            await self.recorder.trades.update_bracket_status(t.id, reason)
            self._known[t.id] = "closed"
            report.closed.append({**self._closed_view(closed), "settlement": why.text})
            ref = t.entry_order_ref or ""
            for child in (f"{ref}-tp", f"{ref}-sl"):
                o = by_ref.get(child)
                if o is not None and o.status in WORKING and self.cancel is not None:
                    try:
                        await IntentRepo(self.store, self.account_id or "").note_cancel(
                            [child],
                            Reason("nt.settled", f"trade {t.id} {reason}: its exit is cancelled"),
                            now,
                        )
                        await self.cancel(child)
                    except Exception:
                        continue
