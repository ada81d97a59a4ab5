"""`OrderPort` over ib_async: orders go out through engine.broker's OrderGateway (guarded by
the session) when one is given, otherwise straight through `IB.placeOrder` (tests, tools).

Snapshots come from ib_async's own state, which it keeps from the startup fetch (open orders,
completed orders, executions) and the live events, so reading them costs no IBKR message.
An order's error (e.g. 201 margin rejection) is taken from its trade log.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract
from ib_async.order import Trade

from engine.domain import OptionRef, Reason
from engine.execution.brackets import OrderLeg, is_putdesk_ref, to_ib_order
from engine.execution.ports import BrokerFill, BrokerOrder, BrokerPosition

UNSET = 1e300


def _price(v: float | Decimal | None) -> Decimal | None:
    if v is None or float(v) >= UNSET or v != v:
        return None
    return Decimal(str(v))


def option_contract(o: OptionRef) -> Contract:
    return Contract(
        secType="OPT",
        conId=o.con_id,
        symbol=o.symbol,
        lastTradeDateOrContractMonth=o.expiry,
        strike=o.strike,
        right=o.right,
        multiplier=str(o.multiplier),
        exchange=o.exchange,
        currency="USD",
        tradingClass=o.trading_class,
    )


class IbOrderPort:
    """The execution port for one ib_async connection."""

    def __init__(self, ib: IB, *, gateway: Any = None, account: str | None = None):
        self.ib = ib
        self.gateway = gateway
        self._account = account
        self._ids: dict[str, int] = {}

    @property
    def account(self) -> str:
        if self._account:
            return self._account
        accts = self.ib.managedAccounts()
        return accts[0] if accts else ""

    def connected(self) -> bool:
        return bool(self.ib.isConnected())

    def _order_id_of(self, ref: str) -> int:
        if ref in self._ids:
            return self._ids[ref]
        for t in self.ib.trades():
            if t.order.orderRef == ref:
                return int(t.order.orderId)
        return 0

    async def place(self, option: OptionRef, legs: list[OrderLeg], oca_group: str = "") -> None:
        contract = option_contract(option)
        for leg in legs:
            oid = self.ib.client.getReqId()
            parent = self._order_id_of(leg.parent_ref) if leg.parent_ref else 0
            order = to_ib_order(
                leg, order_id=oid, parent_id=parent, account=self.account, oca_group=oca_group
            )
            self._ids[leg.order_ref] = oid
            if self.gateway is not None:
                await self.gateway.place(contract, order)
            else:
                self.ib.placeOrder(contract, order)

    async def cancel(self, order_ref: str) -> None:
        for t in self.ib.trades():
            if t.order.orderRef == order_ref and not t.isDone():
                if self.gateway is not None:
                    await self.gateway.cancel(t)
                else:
                    self.ib.cancelOrder(t.order)

    def _filled_by_perm(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for f in self.ib.fills():
            pid = int(f.execution.permId)
            out[pid] = out.get(pid, 0) + int(f.execution.shares)
        return out

    async def orders(self) -> list[BrokerOrder]:
        filled_by_perm = self._filled_by_perm()
        latest: dict[str, BrokerOrder] = {}
        for t in self.ib.trades():
            ref = str(t.order.orderRef or "")
            if not is_putdesk_ref(ref):
                continue
            latest[ref] = self._broker_order(t, filled_by_perm)
        return list(latest.values())

    def _broker_order(self, t: Trade, filled_by_perm: dict[int, int]) -> BrokerOrder:
        o, s, c = t.order, t.orderStatus, t.contract
        qty = int(o.totalQuantity)
        perm = int(o.permId or s.permId or 0)
        filled = max(int(s.filled), filled_by_perm.get(perm, 0))
        if s.status == "Filled" and filled == 0:
            filled = qty
        error = None
        for entry in reversed(t.log):
            if entry.errorCode and entry.errorCode not in (399, 202):
                error = Reason(f"ib.{entry.errorCode}", entry.message)
                break
        return BrokerOrder(
            order_ref=str(o.orderRef),
            order_id=int(o.orderId),
            perm_id=perm,
            con_id=int(c.conId),
            symbol=c.symbol,
            action=o.action,
            quantity=qty,
            order_type=o.orderType,
            limit_price=_price(o.lmtPrice),
            aux_price=_price(o.auxPrice) if o.orderType in ("STP", "STP LMT") else None,
            tif=o.tif,
            status=s.status,
            filled=filled,
            remaining=max(qty - filled, 0),
            avg_fill_price=_price(s.avgFillPrice) if s.avgFillPrice else None,
            parent_id=int(o.parentId or s.parentId or 0),
            why_held=s.whyHeld or "",
            error=error,
        )

    async def fills(self) -> list[BrokerFill]:
        out = []
        for f in self.ib.fills():
            e, c, cr = f.execution, f.contract, f.commissionReport
            ref = str(e.orderRef or "")
            if not is_putdesk_ref(ref):
                continue
            commission = Decimal(str(cr.commission)) if cr and cr.execId else None
            out.append(
                BrokerFill(
                    exec_id=e.execId,
                    order_ref=ref,
                    order_id=int(e.orderId),
                    perm_id=int(e.permId),
                    con_id=int(c.conId),
                    symbol=c.symbol,
                    side=e.side,
                    quantity=int(e.shares),
                    price=Decimal(str(e.price)),
                    time=(e.time or f.time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
                    commission=commission,
                    expiry=c.lastTradeDateOrContractMonth,
                    strike=Decimal(str(c.strike)) if c.strike else None,
                    right=c.right,
                    sec_type=c.secType or "OPT",
                )
            )
        return out

    async def positions(self) -> list[BrokerPosition]:
        out = []
        for p in self.ib.positions(self.account or ""):
            c = p.contract
            out.append(
                BrokerPosition(
                    con_id=int(c.conId),
                    symbol=c.symbol,
                    sec_type=c.secType,
                    quantity=int(p.position),
                    avg_cost=Decimal(str(p.avgCost)),
                    expiry=c.lastTradeDateOrContractMonth,
                    strike=Decimal(str(c.strike)) if c.strike else None,
                    right=c.right,
                    multiplier=int(c.multiplier or 1) if c.secType == "OPT" else 1,
                )
            )
        return out
