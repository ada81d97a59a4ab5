"""A read-side `engine.execution.ports.OrderPort` over the session's ib_async client, limited to
NakedTrader's orderRefs ("pd-nt-..."), so the shared execution Watcher books only our fills.

(engine.execution has no ib_async port of its own yet; this one lives here.) Orders are placed
through OrderGateway (`place` sends each leg with `to_ib_order`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engine.domain import OptionRef
from engine.execution.brackets import OrderLeg, to_ib_order
from engine.execution.ports import BrokerFill, BrokerOrder, BrokerPosition

NT_REF_PREFIX = "pd-nt-"
UNSET = 1e300


def _dec(v: Any) -> Decimal | None:
    if v is None:
        return None
    f = float(v)
    if f >= UNSET or f != f:
        return None
    return Decimal(str(f))


def is_nt_ref(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith(NT_REF_PREFIX)


class IbNtPort:
    """OrderPort over `session.ib` for NakedTrader orders only."""

    def __init__(self, session: Any, gateway: Any, prefix: str = NT_REF_PREFIX):
        self.session = session
        self.gateway = gateway
        self.prefix = prefix

    @property
    def ib(self) -> Any:
        return self.session.ib

    @property
    def account(self) -> str:
        return str(self.session.account or "")

    def connected(self) -> bool:
        return bool(self.session.connected)

    def _ours(self, ref: str | None) -> bool:
        return bool(ref) and str(ref).startswith(self.prefix)

    async def place(self, option: OptionRef, legs: list[OrderLeg], oca_group: str = "") -> None:
        from engine.broker.services import MarketServices

        contract = MarketServices.option_contract(option)
        ids: dict[str, int] = {}
        for leg in legs:
            oid = int(self.ib.client.getReqId())
            ids[leg.order_ref] = oid
            order = to_ib_order(
                leg,
                order_id=oid,
                parent_id=ids.get(leg.parent_ref or "", 0),
                account=self.account,
                oca_group=oca_group,
            )
            await self.gateway.place(contract, order)

    async def cancel(self, order_ref: str) -> None:
        for t in self.ib.openTrades():
            if t.order.orderRef == order_ref:
                await self.gateway.cancel(t)

    async def orders(self) -> list[BrokerOrder]:
        out: list[BrokerOrder] = []
        for t in self.ib.trades():
            o, s, c = t.order, t.orderStatus, t.contract
            if not self._ours(o.orderRef):
                continue
            out.append(
                BrokerOrder(
                    order_ref=str(o.orderRef),
                    order_id=int(o.orderId),
                    perm_id=int(o.permId or s.permId or 0),
                    con_id=int(c.conId or 0),
                    symbol=str(c.symbol),
                    action=str(o.action),
                    quantity=int(float(o.totalQuantity)),
                    order_type=str(o.orderType),
                    limit_price=_dec(o.lmtPrice) if o.orderType == "LMT" else None,
                    aux_price=_dec(o.auxPrice) if o.orderType == "STP" else None,
                    tif=str(o.tif or "DAY"),
                    status=str(s.status),
                    filled=int(float(s.filled or 0)),
                    remaining=int(float(s.remaining or 0)),
                    avg_fill_price=_dec(s.avgFillPrice) if s.avgFillPrice else None,
                    parent_id=int(o.parentId or 0),
                    why_held=str(s.whyHeld or ""),
                )
            )
        return out

    async def fills(self) -> list[BrokerFill]:
        out: list[BrokerFill] = []
        for f in self.ib.fills():
            e, c, cr = f.execution, f.contract, f.commissionReport
            if not self._ours(e.orderRef):
                continue
            commission = Decimal(str(cr.commission)) if cr is not None and cr.execId else None
            t = e.time if isinstance(e.time, dt.datetime) else dt.datetime.now(dt.UTC)
            out.append(
                BrokerFill(
                    exec_id=str(e.execId),
                    order_ref=str(e.orderRef),
                    order_id=int(e.orderId),
                    perm_id=int(e.permId or 0),
                    con_id=int(c.conId or 0),
                    symbol=str(c.symbol),
                    side=str(e.side),
                    quantity=int(float(e.shares)),
                    price=Decimal(str(e.price)),
                    time=t if t.tzinfo else t.replace(tzinfo=dt.UTC),
                    commission=commission,
                    expiry=str(c.lastTradeDateOrContractMonth or "")[:8],
                    strike=Decimal(str(c.strike)) if c.strike else None,
                    right=str(c.right or ""),
                    sec_type=str(c.secType or "OPT"),
                )
            )
        return out

    async def positions(self) -> list[BrokerPosition]:
        out: list[BrokerPosition] = []
        for p in self.ib.positions():
            c = p.contract
            out.append(
                BrokerPosition(
                    con_id=int(c.conId or 0),
                    symbol=str(c.symbol),
                    sec_type=str(c.secType),
                    quantity=int(float(p.position)),
                    avg_cost=Decimal(str(p.avgCost)),
                    expiry=str(c.lastTradeDateOrContractMonth or "")[:8],
                    strike=Decimal(str(c.strike)) if c.strike else None,
                    right=str(c.right or ""),
                    multiplier=int(float(c.multiplier or 1)),
                )
            )
        return out
