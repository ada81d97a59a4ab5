"""Order placement: the one door through which putdesk orders leave, guarded by the session.

`OrderGateway.place` sends an ib_async order only when `session.trading_allowed()` says yes,
otherwise raises `OrderRefused` with the Reason. Every order carries an `orderRef` starting with
`pd-` (the kill switch cancels exactly those). Status changes and fills go onto the bus as
"order.status" / "order.fill" events. `place_bracket` builds a native IBKR bracket: parent
SELL LMT (DAY, transmit=False), profit-take BUY LMT (GTC), optional stop BUY STP (GTC), the last
child transmitting the group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ib_async import Contract, LimitOrder, Order, StopOrder
from ib_async.objects import Fill
from ib_async.order import Trade

from engine.broker.errors import BrokerError
from engine.broker.pacing import Priority
from engine.broker.session import Session
from engine.domain import Reason
from engine.runtime.bus import EventBus

log = logging.getLogger(__name__)

ORDER_REF_PREFIX = "pd-"
DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


class OrderRefused(BrokerError):
    """A guard refused the order before anything was sent."""


@dataclass(frozen=True)
class BracketTrades:
    parent: Trade
    take_profit: Trade
    stop_loss: Trade | None

    @property
    def trades(self) -> list[Trade]:
        return [t for t in (self.parent, self.take_profit, self.stop_loss) if t is not None]


def bracket_role(order_ref: str | None, parent_id: int | None) -> str | None:
    """An order's place in a bracket, from its orderRef suffix ("-tp", "-sl"): entry,
    take_profit or stop; "child" for another order with a parent; None outside a bracket."""
    ref = order_ref or ""
    if ref.endswith("-tp"):
        return "take_profit"
    if ref.endswith("-sl"):
        return "stop"
    if parent_id:
        return "child"
    return "entry" if ref else None


def trade_summary(trade: Trade) -> dict[str, Any]:
    """A JSON-friendly view of an ib_async Trade for events and API results."""
    c, o, s = trade.contract, trade.order, trade.orderStatus
    return {
        "order_id": o.orderId,
        "perm_id": o.permId or s.permId,
        "client_id": o.clientId,
        "parent_id": o.parentId,
        "order_ref": o.orderRef,
        "putdesk": str(o.orderRef or "").startswith(ORDER_REF_PREFIX),
        "role": bracket_role(o.orderRef, o.parentId),
        "symbol": c.symbol,
        "local_symbol": c.localSymbol,
        "con_id": c.conId,
        "sec_type": c.secType,
        "expiry": c.lastTradeDateOrContractMonth,
        "strike": c.strike,
        "right": c.right,
        "action": o.action,
        "quantity": float(o.totalQuantity),
        "order_type": o.orderType,
        "limit_price": None if o.lmtPrice is None or o.lmtPrice > 1e300 else o.lmtPrice,
        "aux_price": None if o.auxPrice is None or o.auxPrice > 1e300 else o.auxPrice,
        "tif": o.tif,
        "status": s.status,
        "filled": float(s.filled),
        "remaining": float(s.remaining),
        "avg_fill_price": s.avgFillPrice,
        "why_held": s.whyHeld,
    }


class OrderGateway:
    """Places and cancels orders for one session; publishes order events on the bus."""

    def __init__(self, session: Session, bus: EventBus):
        self.session = session
        self.bus = bus
        self.ib = session.ib
        self.ib.orderStatusEvent += self._on_status
        self.ib.execDetailsEvent += self._on_fill

    def _guard(self) -> None:
        ok, why = self.session.trading_allowed()
        if not ok:
            raise OrderRefused(why)

    @staticmethod
    def _check_ref(order: Order) -> None:
        if not str(order.orderRef or "").startswith(ORDER_REF_PREFIX):
            raise OrderRefused(
                Reason("order.bad_ref", f"orderRef must start with {ORDER_REF_PREFIX!r}")
            )

    async def place(self, contract: Contract, order: Order) -> Trade:
        """Send one order (guarded). Returns ib_async's Trade."""
        self._check_ref(order)
        self._guard()
        if not order.account and self.session.account:
            order.account = self.session.account
        async with self.session.pacer.message(Priority.ORDERS):
            self._guard()
            trade = self.ib.placeOrder(contract, order)
        log.info(
            "placed %s %s %s ref=%s",
            order.action,
            order.totalQuantity,
            contract.localSymbol or contract.symbol,
            order.orderRef,
        )
        self.bus.publish(
            "order.status",
            f"sent {order.action} {order.totalQuantity:g} "
            f"{contract.localSymbol or contract.symbol} ({order.orderRef})",
            data=trade_summary(trade),
        )
        return trade

    async def cancel(self, trade: Trade | Order) -> None:
        """Ask IBKR to cancel an order. Cancels are allowed even while trading is halted."""
        order = trade.order if isinstance(trade, Trade) else trade
        if not self.session.connected:
            raise BrokerError.of("session.disconnected", "cannot cancel: not connected to IBKR")
        async with self.session.pacer.message(Priority.ORDERS):
            self.ib.cancelOrder(order)

    def putdesk_open_trades(self) -> list[Trade]:
        return [
            t
            for t in self.ib.openTrades()
            if str(t.order.orderRef or "").startswith(ORDER_REF_PREFIX)
        ]

    async def cancel_all_putdesk(self) -> int:
        """Cancel every open order whose orderRef starts with `pd-`; returns how many."""
        trades = self.putdesk_open_trades()
        for t in trades:
            await self.cancel(t)
        return len(trades)

    async def place_bracket(
        self,
        contract: Contract,
        quantity: int,
        limit: Decimal,
        take_profit: Decimal,
        stop: Decimal | None,
        order_ref: str,
        *,
        action: str = "SELL",
    ) -> BracketTrades:
        """Parent (DAY, transmit False), take-profit (GTC), optional stop (GTC); the last
        child transmits the whole group. Children refs are `<ref>-tp` and `<ref>-sl`."""
        self._guard()
        if not order_ref.startswith(ORDER_REF_PREFIX):
            raise OrderRefused(
                Reason("order.bad_ref", f"orderRef must start with {ORDER_REF_PREFIX!r}")
            )
        reverse = "BUY" if action == "SELL" else "SELL"
        account = self.session.account or ""
        parent = LimitOrder(
            action,
            quantity,
            float(limit),
            orderId=self.ib.client.getReqId(),
            transmit=False,
            tif="DAY",
            orderRef=order_ref,
            account=account,
        )
        tp = LimitOrder(
            reverse,
            quantity,
            float(take_profit),
            orderId=self.ib.client.getReqId(),
            transmit=stop is None,
            parentId=parent.orderId,
            tif="GTC",
            orderRef=f"{order_ref}-tp",
            account=account,
        )
        sl = None
        if stop is not None:
            sl = StopOrder(
                reverse,
                quantity,
                float(stop),
                orderId=self.ib.client.getReqId(),
                transmit=True,
                parentId=parent.orderId,
                tif="GTC",
                orderRef=f"{order_ref}-sl",
                account=account,
            )
        async with self.session.pacer.message(Priority.ORDERS, 3 if sl is not None else 2):
            self._guard()
            pt = self.ib.placeOrder(contract, parent)
            tt = self.ib.placeOrder(contract, tp)
            st = self.ib.placeOrder(contract, sl) if sl is not None else None
        self.bus.publish(
            "order.status",
            f"sent bracket {action} {quantity} "
            f"{contract.localSymbol or contract.symbol} ({order_ref})",
            data={
                "parent": trade_summary(pt),
                "take_profit": trade_summary(tt),
                "stop_loss": trade_summary(st) if st is not None else None,
            },
        )
        return BracketTrades(pt, tt, st)

    # -- events ------------------------------------------------------------------------------
    @staticmethod
    def _booked_elsewhere(trade: Trade) -> bool:
        """A putdesk order's status changes and fills are booked by the execution watcher,
        which publishes them with their booking: these immediate events are then "debug"
        (they still refresh the console at once, but are not logged twice)."""
        return str(trade.order.orderRef or "").startswith(ORDER_REF_PREFIX)

    def _on_status(self, trade: Trade) -> None:
        s = trade.orderStatus
        if s.status in ("Inactive",):
            sev = "warning"
        else:
            sev = "debug" if self._booked_elsewhere(trade) else "info"
        self.bus.publish(
            "order.status",
            f"{trade.order.orderRef or trade.order.orderId}: {s.status}",
            severity=sev,
            data=trade_summary(trade),
        )

    def _on_fill(self, trade: Trade, fill: Fill) -> None:
        e = fill.execution
        self.bus.publish(
            "order.fill",
            f"{trade.order.orderRef or trade.order.orderId}: {e.side} {e.shares:g} @ {e.price}",
            severity="debug" if self._booked_elsewhere(trade) else "info",
            data={
                **trade_summary(trade),
                "exec_id": e.execId,
                "fill_shares": float(e.shares),
                "fill_price": e.price,
                "fill_time": e.time.isoformat() if e.time else None,
            },
        )
