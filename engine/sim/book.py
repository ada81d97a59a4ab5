"""The simulated gateway's order book, account and end of day.

`Book` accepts orders (LMT, STP, MKT; DAY/GTC; brackets held until transmit; OCA groups),
answers what-if requests with Reg-T margin, matches resting orders against the market
model's quotes on `on_tick()`, keeps cash/positions/margin, expires/assigns/cash-settles
options in `end_of_day()`, and books every trade with Flex identifiers for
engine.sim.flex_statements. It emits engine.sim.events objects through `listener`.

Fill rules (documented in docs/dev/sim-book.md):
- SELL LMT fills when bid >= limit, BUY LMT when ask <= limit. An order marketable on its
  first match after going live fills at the touch (bid/ask: price improvement); a resting
  order that becomes marketable later fills at its limit.
- BUY STP triggers when ask >= stop and fills at the ask; SELL STP when bid <= stop, at bid.
- MKT fills at the touch (ask for buys, bid for sells); no fill without a quote.
- Only while the contract's market is open. With `partial_fills=True` a seeded RNG fills a
  random part (1..remaining) per tick.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ib_async.contract import Contract
from ib_async.objects import CommissionReport, Execution
from ib_async.order import Order, OrderState

from engine.sim.accounts import (
    ZERO,
    EAERecord,
    Ledger,
    Position,
    TradeRecord,
    contract_from_dict,
    contract_to_dict,
    expiry_of,
    from_dict,
    is_cash_settled,
    multiplier_of,
    occ_symbol,
    option_description,
    option_requirement,
    stock_requirement,
    to_dict,
)
from engine.sim.events import (
    AccountEvent,
    BookEvent,
    ExecutionEvent,
    OpenOrderEvent,
    OrderErrorEvent,
    OrderStatusEvent,
    PositionEvent,
)
from engine.sim.orders import (
    CANCELLED,
    FILLED,
    HELD,
    PRE_SUBMITTED,
    SUBMITTED,
    SimOrder,
    dec,
    price_set,
)

ET = ZoneInfo("America/New_York")
STATE_VERSION = 1
ACCOUNT_PUSH = timedelta(minutes=3)
EOD_TIME = time(16, 20)  # assignments/expiries are booked 16:20 ET, as IBKR's statements show
FIRST_PERM_ID = 1_100_000_001
FIRST_TRADE_ID = 3_000_000_001
FIRST_TRANSACTION_ID = 30_000_000_001

MARGIN_REJECT = (
    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
    "POSITION YOUR EQUITY WITH LOAN VALUE [{elv} USD] MUST EXCEED THE INITIAL MARGIN "
    "[{init} USD]"
)


@dataclass
class _Quote:
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal
    ask_size: Decimal
    mark: Decimal | None
    und: Decimal | None


@dataclass
class _Margin:
    init: Decimal
    maint: Decimal


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).replace("-", "")
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def _default_is_open(now: datetime) -> bool:
    local = now.astimezone(ET)
    return local.weekday() < 5 and time(9, 30) <= local.time() < time(16, 0)


class Book:
    """Order book + Reg-T margin account + end of day for one simulated account."""

    def __init__(
        self,
        market: Any,
        clock: Any,
        account_id: str = "DU1234567",
        starting_cash: Decimal = Decimal("1000000"),
        listener: Callable[[BookEvent], None] | None = None,
        partial_fills: bool = False,
        seed: int = 7,
        is_open: Callable[[Contract, datetime], bool] | None = None,
    ) -> None:
        self.market = market
        self.clock = clock
        self.account_id = account_id
        self.cash = Decimal(starting_cash)
        self.starting_cash = Decimal(starting_cash)
        self.listener = listener
        self.partial_fills = partial_fills
        self.seed = seed
        self._rng = random.Random(seed)
        self._is_open = is_open
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self.positions_by_con: dict[int, Position] = {}
        self.executions_log: list[dict[str, Any]] = []
        self.ledger = Ledger()
        self._next_perm = FIRST_PERM_ID
        self._next_trade = FIRST_TRADE_ID
        self._next_txn = FIRST_TRANSACTION_ID
        self._next_exec = 1
        self._seq = 0
        self._reject_reasons: list[str] = []
        self._month_contracts: dict[str, int] = {}
        self.realized_total = ZERO
        self._last_account_push: datetime | None = None

    # --- events -----------------------------------------------------------------------

    def _emit(self, event: BookEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def _error(self, client_id: int, order_id: int, code: int, message: str) -> None:
        self._emit(OrderErrorEvent(client_id, order_id, code, message))

    def _status(self, o: SimOrder) -> None:
        status = o.status if o.status != HELD else "PendingSubmit"
        self._emit(
            OrderStatusEvent(
                client_id=o.client_id,
                order_id=o.order_id,
                status=status,
                filled=o.filled,
                remaining=o.remaining,
                avg_fill_price=float(o.avg_fill_price),
                perm_id=o.perm_id,
                parent_id=int(o.order.parentId or 0),
                last_fill_price=float(o.last_fill_price),
                why_held=o.why_held,
            )
        )

    def _open_order(self, o: SimOrder) -> None:
        self._emit(OpenOrderEvent(o.client_id, o.contract, o.order, o.order_state()))

    def _account_event(self) -> None:
        self._emit(AccountEvent(self.account_id, self.account_values()))

    def _position_event(self, contract: Contract) -> None:
        pos = self.positions_by_con.get(contract.conId)
        qty = pos.quantity if pos else ZERO
        avg = float(pos.avg_cost) if pos else 0.0
        self._emit(PositionEvent(self.account_id, contract, qty, avg))

    # --- market access -------------------------------------------------------------------

    def _now(self) -> datetime:
        now: datetime = self.clock.now()
        return now.astimezone(UTC)

    def _spec(self, con_id: int) -> Any:
        finder = getattr(self.market, "by_con_id", None)
        return finder(con_id) if finder is not None else None

    def _canonical(self, contract: Contract) -> Contract:
        """The stored contract: the market model's definition when it knows the conId."""
        spec = self._spec(contract.conId) if contract.conId else None
        if spec is None or not hasattr(spec, "strike"):
            if spec is not None and contract.secType in {"", "STK"}:
                symbol = getattr(spec, "symbol", contract.symbol)
                return Contract(
                    conId=contract.conId,
                    symbol=symbol,
                    secType="STK",
                    exchange="SMART",
                    currency="USD",
                    localSymbol=symbol,
                    tradingClass=symbol,
                )
            return Contract(**contract_to_dict(contract))
        expiry = _as_date(spec.expiry)
        right = str(spec.right)[0].upper()
        return Contract(
            conId=int(spec.con_id),
            symbol=spec.symbol,
            secType="OPT",
            lastTradeDateOrContractMonth=expiry.strftime("%Y%m%d"),
            strike=float(spec.strike),
            right=right,
            multiplier=str(spec.multiplier),
            exchange=getattr(spec, "exchange", "") or "SMART",
            currency="USD",
            localSymbol=getattr(spec, "local_symbol", "")
            or occ_symbol(spec.symbol, expiry, right, Decimal(str(spec.strike))),
            tradingClass=getattr(spec, "trading_class", "") or spec.symbol,
        )

    def _und_price(self, contract: Contract) -> Decimal:
        return Decimal(str(self.market.price(contract.symbol)))

    def _quote(self, contract: Contract) -> _Quote:
        if contract.secType == "OPT":
            spec = self._spec(contract.conId)
            if spec is None:
                return _Quote(None, None, ZERO, ZERO, None, None)
            q = self.market.option_quote(spec)
            bid = Decimal(str(q.bid)) if q.bid is not None else None
            ask = Decimal(str(q.ask)) if q.ask is not None else None
            if bid is not None and ask is not None:
                mark: Decimal | None = (bid + ask) / 2
            elif getattr(q, "model_price", None) is not None:
                mark = Decimal(str(q.model_price))
            else:
                mark = bid if bid is not None else ask
            und = Decimal(str(q.und_price)) if q.und_price is not None else None
            return _Quote(bid, ask, dec(q.bid_size or 0), dec(q.ask_size or 0), mark, und or None)
        price = self._und_price(contract)
        bid = ask = price
        underlying_quote = getattr(self.market, "underlying_quote", None)
        if underlying_quote is not None:
            uq = underlying_quote(contract.symbol)
            bid = Decimal(str(uq.bid)) if uq.bid is not None else price
            ask = Decimal(str(uq.ask)) if uq.ask is not None else price
        return _Quote(bid, ask, Decimal("100000"), Decimal("100000"), price, price)

    def _mark(self, contract: Contract) -> Decimal:
        q = self._quote(contract)
        return q.mark if q.mark is not None else ZERO

    def _market_open(self, contract: Contract) -> bool:
        now = self._now()
        if self._is_open is not None:
            return self._is_open(contract, now)
        calendar = getattr(self.market, "calendar", None)
        if calendar is not None and hasattr(calendar, "is_open"):
            return bool(calendar.is_open(now))
        return _default_is_open(now)

    def _tick_ok(self, contract: Contract, price: Decimal) -> bool:
        if contract.secType == "OPT":
            spec = self._spec(contract.conId)
            if spec is None:
                return True
            tick = Decimal(str(self.market.tick_size(spec, float(price))))
        else:
            tick = Decimal("0.01")
        if tick <= 0:
            return True
        return (price % tick) == 0

    # --- commissions ----------------------------------------------------------------------

    def _commission(self, contract: Contract, qty: Decimal, price: Decimal, side: str) -> Decimal:
        if contract.secType == "OPT":
            from engine.sim.commissions import option_commission

            month = self._now().strftime("%Y-%m")
            monthly = self._month_contracts.get(month, 0)
            return Decimal(option_commission(int(qty), price, side, monthly))
        from engine.sim.commissions import stock_commission

        return Decimal(stock_commission(int(qty), price))

    # --- margin and account values -----------------------------------------------------------

    def _requirement(self, contract: Contract, qty: Decimal, price: Decimal | None) -> _Margin:
        if qty == 0:
            return _Margin(ZERO, ZERO)
        if contract.secType == "OPT":
            und = self._und_price(contract)
            opt_price = price if price is not None else self._mark(contract)
            req = option_requirement(contract, qty, und, opt_price)
            return _Margin(req, req)
        px = price if price is not None else self._und_price(contract)
        init, maint = stock_requirement(qty, px)
        return _Margin(init, maint)

    def _margin(self, override: tuple[Contract, Decimal, Decimal] | None = None) -> _Margin:
        """Total requirement; `override` = (contract, quantity after, price for new lots)."""
        total = _Margin(ZERO, ZERO)
        for con_id, pos in self.positions_by_con.items():
            if override is not None and con_id == override[0].conId:
                continue
            m = self._requirement(pos.contract, pos.quantity, None)
            total.init += m.init
            total.maint += m.maint
        if override is not None:
            contract, after, new_price = override
            before = self.positions_by_con.get(contract.conId)
            before_qty = before.quantity if before else ZERO
            if after < 0 and after < before_qty:
                # Growing a short: existing lots at the mark, new ones at the order price.
                old = self._requirement(contract, min(before_qty, ZERO), None)
                new = self._requirement(contract, after - min(before_qty, ZERO), new_price)
                total.init += old.init + new.init
                total.maint += old.maint + new.maint
            else:
                m = self._requirement(contract, after, None)
                total.init += m.init
                total.maint += m.maint
        return total

    def _stock_value(self) -> Decimal:
        value = ZERO
        for pos in self.positions_by_con.values():
            if pos.contract.secType != "OPT":
                value += pos.quantity * self._und_price(pos.contract)
        return value

    def _option_value(self) -> Decimal:
        value = ZERO
        for pos in self.positions_by_con.values():
            if pos.contract.secType == "OPT":
                value += pos.quantity * self._mark(pos.contract) * multiplier_of(pos.contract)
        return value

    def equity_with_loan(self) -> Decimal:
        """Cash + stock value; US options are left out (margin account)."""
        return self.cash + self._stock_value()

    def net_liquidation(self) -> Decimal:
        return self.cash + self._stock_value() + self._option_value()

    def account_values(self) -> dict[str, str]:
        """Account tags (strings), consistent with positions and current prices."""
        stock = self._stock_value()
        options = self._option_value()
        elv = self.cash + stock
        nlv = elv + options
        m = self._margin()
        gross = ZERO
        unrealized = ZERO
        for pos in self.positions_by_con.values():
            mult = multiplier_of(pos.contract)
            price = (
                self._mark(pos.contract)
                if pos.contract.secType == "OPT"
                else self._und_price(pos.contract)
            )
            gross += abs(pos.quantity * price * mult)
            unrealized += pos.quantity * price * mult - pos.quantity * pos.avg_cost
        available = elv - m.init
        excess = elv - m.maint
        cushion = (excess / nlv) if nlv else ZERO
        return {
            "NetLiquidation": _money(nlv),
            "EquityWithLoanValue": _money(elv),
            "InitMarginReq": _money(m.init),
            "MaintMarginReq": _money(m.maint),
            "FullInitMarginReq": _money(m.init),
            "FullMaintMarginReq": _money(m.maint),
            "AvailableFunds": _money(available),
            "ExcessLiquidity": _money(excess),
            "BuyingPower": _money(available * 4),
            "Cushion": f"{cushion.quantize(Decimal('0.000001'))}",
            "TotalCashValue": _money(self.cash),
            "GrossPositionValue": _money(gross),
            "StockMarketValue": _money(stock),
            "OptionMarketValue": _money(options),
            "UnrealizedPnL": _money(unrealized),
            "RealizedPnL": _money(self.realized_total),
        }

    # --- what-if ---------------------------------------------------------------------------------

    def _order_price(self, contract: Contract, order: Order) -> Decimal:
        otype = order.orderType.upper()
        if otype == "LMT" and price_set(order.lmtPrice):
            return dec(order.lmtPrice)
        if otype == "STP" and price_set(order.auxPrice):
            return dec(order.auxPrice)
        q = self._quote(contract)
        touch = q.ask if order.action.upper() == "BUY" else q.bid
        if touch is not None:
            return touch
        return q.mark if q.mark is not None else ZERO

    def _impact(
        self, contract: Contract, order: Order
    ) -> tuple[_Margin, _Margin, Decimal, Decimal, Decimal]:
        """(margin before, margin after, ELV before, ELV after, commission)."""
        qty = dec(order.totalQuantity)
        side = order.action.upper()
        signed = qty if side == "BUY" else -qty
        price = self._order_price(contract, order)
        mult = multiplier_of(contract)
        commission = self._commission(contract, qty, price, side)
        before = self._margin()
        pos = self.positions_by_con.get(contract.conId)
        after_qty = (pos.quantity if pos else ZERO) + signed
        after = self._margin((contract, after_qty, price))
        elv_before = self.equity_with_loan()
        if contract.secType == "OPT":
            elv_after = elv_before - signed * price * mult - commission
        else:
            elv_after = elv_before - commission
        return before, after, elv_before, elv_after, commission

    def what_if(
        self, client_id: int, contract: Contract, order: Order
    ) -> OrderState | tuple[int, str]:
        """Margin/commission impact as IBKR's what-if OrderState, or (code, message)."""
        del client_id
        if not order.transmit:
            return 413, "The order's transmit flag must be set for a what-if order."
        canonical = self._canonical(contract)
        before, after, elv_before, elv_after, commission = self._impact(canonical, order)
        if after.init > elv_after:
            return 201, MARGIN_REJECT.format(elv=_money(elv_after), init=_money(after.init))
        return OrderState(
            status="PreSubmitted",
            initMarginBefore=_money(before.init),
            maintMarginBefore=_money(before.maint),
            equityWithLoanBefore=_money(elv_before),
            initMarginChange=_money(after.init - before.init),
            maintMarginChange=_money(after.maint - before.maint),
            equityWithLoanChange=_money(elv_after - elv_before),
            initMarginAfter=_money(after.init),
            maintMarginAfter=_money(after.maint),
            equityWithLoanAfter=_money(elv_after),
            commission=float(commission),
            minCommission=float(commission),
            maxCommission=float(commission),
            commissionCurrency="USD",
        )

    # --- placing -----------------------------------------------------------------------------

    def reject_next(self, reason: str) -> None:
        """Make the next place() fail with error 201 and this reason."""
        self._reject_reasons.append(reason)

    def _root_id(self, client_id: int, order: Order) -> int:
        oid = int(order.orderId)
        parent = int(order.parentId or 0)
        while parent:
            oid = parent
            p = self.orders.get((client_id, parent))
            parent = int(p.order.parentId or 0) if p else 0
        return oid

    def place(self, client_id: int, contract: Contract, order: Order) -> None:
        """Accept a new order or modify an existing one (same client and orderId)."""
        key = (client_id, int(order.orderId))
        existing = self.orders.get(key)
        if existing is not None:
            self._modify(existing, order)
            return
        if self._reject_reasons:
            reason = self._reject_reasons.pop(0)
            self._error(client_id, key[1], 201, f"Order rejected - reason:{reason}")
            return
        otype = order.orderType.upper()
        if otype not in {"LMT", "STP", "MKT"}:
            self._error(client_id, key[1], 387, f"Unsupported order type: {order.orderType}")
            return
        canonical = self._canonical(contract)
        if otype == "LMT" and not price_set(order.lmtPrice):
            self._error(client_id, key[1], 321, "Error validating request: missing limit price")
            return
        if otype == "STP" and not price_set(order.auxPrice):
            self._error(client_id, key[1], 321, "Error validating request: missing stop price")
            return
        if not self._prices_on_grid(canonical, order):
            self._error(
                client_id,
                key[1],
                110,
                "The price does not conform to the minimum price variation for this contract.",
            )
            return
        parent_id = int(order.parentId or 0)
        if parent_id and (client_id, parent_id) not in self.orders:
            self._error(client_id, key[1], 10006, "Missing parent order.")
            return
        if not parent_id and self._increases_risk(canonical, order):
            _, after, _, elv_after, _ = self._impact(canonical, order)
            if after.init > elv_after:
                self._error(
                    client_id,
                    key[1],
                    201,
                    MARGIN_REJECT.format(elv=_money(elv_after), init=_money(after.init)),
                )
                return
        stored = copy.copy(order)
        stored.clientId = client_id
        stored.permId = self._next_perm
        stored.account = stored.account or self.account_id
        if not stored.tif:
            stored.tif = "DAY"
        self._next_perm += 1
        self._seq += 1
        o = SimOrder(
            client_id=client_id,
            contract=canonical,
            order=stored,
            status=HELD,
            seq=self._seq,
            placed_at=self._now(),
        )
        if parent_id:
            o.oca_key = order.ocaGroup or f"bracket:{client_id}:{parent_id}"
            o.why_held = "child"
        elif order.ocaGroup:
            o.oca_key = order.ocaGroup
        self.orders[key] = o
        if order.transmit:
            self._release_group(client_id, self._root_id(client_id, stored))

    def _increases_risk(self, contract: Contract, order: Order) -> bool:
        pos = self.positions_by_con.get(contract.conId)
        qty = pos.quantity if pos else ZERO
        signed = dec(order.totalQuantity) * (1 if order.action.upper() == "BUY" else -1)
        return abs(qty + signed) > abs(qty) or (qty + signed) * qty < 0

    def _prices_on_grid(self, contract: Contract, order: Order) -> bool:
        for name in ("lmtPrice", "auxPrice"):
            value = getattr(order, name)
            if price_set(value) and not self._tick_ok(contract, dec(value)):
                return False
        return True

    def _release_group(self, client_id: int, root_id: int) -> None:
        group = [
            o
            for o in self.orders.values()
            if o.client_id == client_id
            and o.status == HELD
            and self._root_id(client_id, o.order) == root_id
        ]
        for o in sorted(group, key=lambda x: x.seq):
            parent_id = int(o.order.parentId or 0)
            parent = self.orders.get((client_id, parent_id)) if parent_id else None
            if parent is not None and parent.status != FILLED:
                o.status = PRE_SUBMITTED
            else:
                o.status = SUBMITTED
                o.why_held = ""
                o.fresh = True
            self._open_order(o)
            self._status(o)

    def _modify(self, o: SimOrder, order: Order) -> None:
        if not o.is_open:
            code, text = (
                (104, "Can't modify a filled order.")
                if o.status == FILLED
                else (10147, f"OrderId {o.order_id} that needs to be modified is cancelled.")
            )
            self._error(o.client_id, o.order_id, code, text)
            return
        if not self._prices_on_grid(o.contract, order):
            self._error(
                o.client_id,
                o.order_id,
                110,
                "The price does not conform to the minimum price variation for this contract.",
            )
            return
        if dec(order.totalQuantity) < o.filled:
            self._error(o.client_id, o.order_id, 201, "Order rejected - reason:quantity < filled")
            return
        for name in ("totalQuantity", "lmtPrice", "auxPrice", "tif", "orderRef", "transmit"):
            setattr(o.order, name, getattr(order, name))
        o.fresh = True  # a modification is a new arrival for the marketable-on-arrival rule
        if o.status == HELD:
            if order.transmit:
                self._release_group(o.client_id, self._root_id(o.client_id, o.order))
            return
        self._open_order(o)
        self._status(o)

    # --- cancelling --------------------------------------------------------------------------

    def cancel(self, client_id: int, order_id: int) -> None:
        """Cancel one order (children and bracket sibling go with it)."""
        o = self.orders.get((client_id, order_id))
        if o is None:
            self._error(
                client_id,
                order_id,
                10147,
                f"OrderId {order_id} that needs to be cancelled is not found.",
            )
            return
        if not o.is_open:
            self._error(
                client_id,
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {o.status}.",
            )
            return
        self._cancel(o, "")
        for child in self._children(o):
            if child.is_open:
                self._cancel(child, "")
        if o.order.parentId and o.oca_key.startswith("bracket:"):
            for sib in self._oca_siblings(o):
                self._cancel(sib, "OCA")

    def global_cancel(self) -> None:
        """reqGlobalCancel: cancel every open order of every client."""
        for o in sorted(self.orders.values(), key=lambda x: x.seq):
            if o.is_open:
                self._cancel(o, "")

    def _cancel(self, o: SimOrder, reason: str) -> None:
        if not o.is_open:
            return
        was_held = o.status == HELD
        o.status = CANCELLED
        o.completed_at = self._now()
        o.completed_status = "Cancelled by " + ("OCA" if reason else "Trader")
        if was_held:
            return
        self._error(o.client_id, o.order_id, 202, f"Order Canceled - reason:{reason}")
        self._status(o)

    def _children(self, o: SimOrder) -> list[SimOrder]:
        return [
            c
            for c in self.orders.values()
            if c.client_id == o.client_id and int(c.order.parentId or 0) == o.order_id
        ]

    def _oca_siblings(self, o: SimOrder) -> list[SimOrder]:
        if not o.oca_key:
            return []
        return [
            s for s in self.orders.values() if s is not o and s.oca_key == o.oca_key and s.is_open
        ]

    # --- queries -----------------------------------------------------------------------------

    def open_orders(self, client_id: int | None = None) -> list[tuple[Contract, Order, OrderState]]:
        """Live orders (PreSubmitted/Submitted), for reqOpenOrders/reqAllOpenOrders."""
        rows = [
            o
            for o in sorted(self.orders.values(), key=lambda x: x.seq)
            if o.is_live and (client_id is None or o.client_id == client_id)
        ]
        return [(o.contract, o.order, o.order_state()) for o in rows]

    def completed_orders(self) -> list[tuple[Contract, Order, OrderState]]:
        """Filled and cancelled orders, for reqCompletedOrders."""
        rows = [
            o
            for o in sorted(self.orders.values(), key=lambda x: x.seq)
            if not o.is_open and o.completed_at is not None
        ]
        return [(o.contract, o.order, o.order_state()) for o in rows]

    def order(self, client_id: int, order_id: int) -> SimOrder | None:
        """The book's record of one order."""
        return self.orders.get((client_id, order_id))

    def executions(
        self, client_id: int | None = None, since: datetime | None = None
    ) -> list[ExecutionEvent]:
        """Executions (with commission reports), optionally one client's / since a time."""
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        out: list[ExecutionEvent] = []
        for row in self.executions_log:
            ex = self._execution_event(row)
            if client_id is not None and ex.client_id != client_id:
                continue
            if since is not None and ex.execution.time < since:
                continue
            out.append(ex)
        return out

    def positions(self) -> list[PositionEvent]:
        """Open positions (non-zero)."""
        return [
            PositionEvent(self.account_id, p.contract, p.quantity, float(p.avg_cost))
            for p in self.positions_by_con.values()
            if p.quantity != 0
        ]

    def portfolio(self) -> list[tuple[Contract, Decimal, float, float, float, float, float]]:
        """(contract, position, marketPrice, marketValue, averageCost, unrealizedPNL,
        realizedPNL) per position, for updatePortfolio."""
        rows = []
        for p in self.positions_by_con.values():
            mult = multiplier_of(p.contract)
            price = (
                self._mark(p.contract)
                if p.contract.secType == "OPT"
                else self._und_price(p.contract)
            )
            value = p.quantity * price * mult
            unrealized = value - p.quantity * p.avg_cost
            rows.append(
                (
                    p.contract,
                    p.quantity,
                    float(price),
                    float(value),
                    float(p.avg_cost),
                    float(unrealized),
                    float(p.realized),
                )
            )
        return rows

    # --- matching ------------------------------------------------------------------------------

    def on_tick(self) -> None:
        """Match every live order against current quotes (market hours only); re-send
        account values every ACCOUNT_PUSH of clock time while positions are open (IBKR
        refreshes them every 3 minutes)."""
        now = self._now()
        if self.positions_by_con and (
            self._last_account_push is None or now - self._last_account_push >= ACCOUNT_PUSH
        ):
            self._last_account_push = now
            self._account_event()
        live = sorted(
            (o for o in self.orders.values() if o.status == SUBMITTED), key=lambda x: x.seq
        )
        open_now: dict[str, bool] = {}
        for o in live:
            if o.status != SUBMITTED:
                continue  # cancelled by an OCA sibling earlier in this pass
            session_key = o.contract.symbol if self._is_open is not None else ""
            if session_key not in open_now:
                open_now[session_key] = self._market_open(o.contract)
            if not open_now[session_key]:
                continue
            fresh = o.fresh
            o.fresh = False
            price = self._match_price(o, fresh)
            if price is None:
                continue
            qty = o.remaining
            if self.partial_fills and qty > 1:
                qty = Decimal(self._rng.randint(1, int(qty)))
            self._fill(o, qty, price)

    def _match_price(self, o: SimOrder, fresh: bool) -> Decimal | None:
        q = self._quote(o.contract)
        buy = o.order.action.upper() == "BUY"
        otype = o.order.orderType.upper()
        if otype == "MKT":
            return q.ask if buy else q.bid
        if otype == "LMT":
            limit = dec(o.order.lmtPrice)
            if buy and q.ask is not None and q.ask <= limit:
                return q.ask if fresh else limit
            if not buy and q.bid is not None and q.bid >= limit:
                return q.bid if fresh else limit
            return None
        stop = dec(o.order.auxPrice)
        if buy and q.ask is not None and q.ask >= stop:
            return q.ask
        if not buy and q.bid is not None and q.bid <= stop:
            return q.bid
        return None

    def _new_ids(self) -> tuple[str, str]:
        trade_id = str(self._next_trade)
        txn = str(self._next_txn)
        self._next_trade += 1
        self._next_txn += 1
        return trade_id, txn

    def _book_position(
        self, contract: Contract, signed: Decimal, unit_value: Decimal, commission: Decimal
    ) -> tuple[Decimal, Decimal, str]:
        """Apply a trade to positions. unit_value = price*multiplier per contract/share.
        Returns (realized P&L, Flex cost, open/close indicator)."""
        pos = self.positions_by_con.get(contract.conId)
        qty = pos.quantity if pos else ZERO
        realized = ZERO
        if qty == 0 or (qty > 0) == (signed > 0):
            # Opening / adding.
            n = abs(signed)
            basis = n * unit_value + commission if signed > 0 else n * unit_value - commission
            if pos is None:
                pos = Position(contract, ZERO, ZERO, ZERO, self._now())
                self.positions_by_con[contract.conId] = pos
            total = abs(pos.quantity) * pos.avg_cost + basis
            pos.quantity += signed
            pos.avg_cost = total / abs(pos.quantity)
            cost = basis if signed > 0 else -basis
            return ZERO, cost, "O"
        assert pos is not None
        n = min(abs(signed), abs(qty))
        if qty < 0:  # buying to close a short
            realized = n * pos.avg_cost - n * unit_value - commission
            cost = n * pos.avg_cost
        else:  # selling to close a long
            realized = n * unit_value - commission - n * pos.avg_cost
            cost = -n * pos.avg_cost
        pos.quantity += signed if abs(signed) <= abs(qty) else -qty
        pos.realized += realized
        self.realized_total += realized
        rest = abs(signed) - n
        if pos.quantity == 0:
            del self.positions_by_con[contract.conId]
        if rest > 0:
            sign = Decimal(1) if signed > 0 else Decimal(-1)
            self._book_position(contract, sign * rest, unit_value, ZERO)
            return realized, cost, "C;O"
        return realized, cost, "C"

    def _fill(self, o: SimOrder, qty: Decimal, price: Decimal) -> None:
        contract = o.contract
        side = o.order.action.upper()
        buy = side == "BUY"
        signed = qty if buy else -qty
        mult = multiplier_of(contract)
        commission = self._commission(contract, qty, price, side)
        if contract.secType == "OPT":
            month = self._now().strftime("%Y-%m")
            self._month_contracts[month] = self._month_contracts.get(month, 0) + int(qty)
        now = self._now()
        prev_value = o.filled * o.avg_fill_price
        o.filled += qty
        o.avg_fill_price = (prev_value + qty * price) / o.filled
        o.last_fill_price = price
        o.order.filledQuantity = float(o.filled)
        proceeds = -signed * price * mult
        self.cash += proceeds - commission
        realized, cost, open_close = self._book_position(contract, signed, price * mult, commission)
        trade_id, txn = self._new_ids()
        exec_id = f"0000e0d5.{int(now.timestamp()):08x}.{self._next_exec:04x}.01"
        self._next_exec += 1
        exchange = "CBOE" if contract.secType == "OPT" else "ISLAND"
        row: dict[str, Any] = {
            "exec_id": exec_id,
            "client_id": o.client_id,
            "order_id": o.order_id,
            "perm_id": o.perm_id,
            "order_ref": o.order.orderRef,
            "time": now.isoformat(),
            "side": "BOT" if buy else "SLD",
            "shares": str(qty),
            "price": str(price),
            "cum_qty": str(o.filled),
            "avg_price": str(o.avg_fill_price),
            "exchange": exchange,
            "contract": contract_to_dict(contract),
            "commission": str(commission),
            "realized": str(realized),
            "opening": open_close == "O",
        }
        self.executions_log.append(row)
        notes = "P" if o.filled < o.quantity else ""
        self.ledger.trades.append(
            self._trade_record(
                contract,
                trade_id=trade_id,
                txn=txn,
                when=now,
                transaction_type="ExchTrade",
                signed=signed,
                price=price,
                commission=-commission,
                cost=cost,
                realized=realized,
                open_close=open_close,
                notes=notes,
                exchange=exchange,
                exec_id=exec_id,
                o=o,
            )
        )
        self._emit(self._execution_event(row))
        if o.filled >= o.quantity:
            o.status = FILLED
            o.completed_at = now
            o.completed_status = "Filled"
        self._status(o)
        self._position_event(contract)
        self._account_event()
        self._after_fill(o, qty)

    def _after_fill(self, o: SimOrder, qty: Decimal) -> None:
        if o.status == FILLED:
            for child in sorted(self._children(o), key=lambda x: x.seq):
                if child.status == PRE_SUBMITTED:
                    child.status = SUBMITTED
                    child.why_held = ""
                    child.fresh = True
                    self._open_order(child)
                    self._status(child)
        siblings = self._oca_siblings(o)
        if not siblings:
            return
        oca_type = int(o.order.ocaType or 1)
        is_bracket = o.oca_key.startswith("bracket:")
        for sib in siblings:
            if is_bracket or oca_type == 1:
                if is_bracket and o.status != FILLED:
                    self._reduce(sib, qty)
                else:
                    self._cancel(sib, "OCA")
            else:
                self._reduce(sib, qty)

    def _reduce(self, o: SimOrder, qty: Decimal) -> None:
        new_total = o.quantity - qty
        if new_total <= o.filled:
            self._cancel(o, "OCA")
            return
        o.order.totalQuantity = float(new_total)
        if o.status != HELD:
            self._open_order(o)
            self._status(o)

    def _execution_event(self, row: dict[str, Any]) -> ExecutionEvent:
        contract = contract_from_dict(row["contract"])
        execution = Execution(
            execId=row["exec_id"],
            time=datetime.fromisoformat(row["time"]),
            acctNumber=self.account_id,
            exchange=row["exchange"],
            side=row["side"],
            shares=float(row["shares"]),
            price=float(row["price"]),
            permId=int(row["perm_id"]),
            clientId=int(row["client_id"]),
            orderId=int(row["order_id"]),
            cumQty=float(row["cum_qty"]),
            avgPrice=float(row["avg_price"]),
            orderRef=row["order_ref"],
        )
        report = CommissionReport(
            execId=row["exec_id"],
            commission=float(row["commission"]),
            currency="USD",
            realizedPNL=float(row["realized"]),
        )
        return ExecutionEvent(int(row["client_id"]), contract, execution, report)

    def _trade_record(
        self,
        contract: Contract,
        *,
        trade_id: str,
        txn: str,
        when: datetime,
        transaction_type: str,
        signed: Decimal,
        price: Decimal,
        commission: Decimal,
        cost: Decimal,
        realized: Decimal,
        open_close: str,
        notes: str,
        exchange: str = "--",
        exec_id: str = "",
        o: SimOrder | None = None,
    ) -> TradeRecord:
        mult = multiplier_of(contract)
        proceeds = -signed * price * mult
        expiry = expiry_of(contract)
        strike = Decimal(str(contract.strike)) if contract.secType == "OPT" else None
        right = contract.right[:1].upper() if contract.secType == "OPT" else ""
        if contract.secType == "OPT" and expiry is not None and strike is not None:
            local = contract.localSymbol or occ_symbol(contract.symbol, expiry, right, strike)
            description = option_description(contract.symbol, expiry, right, strike)
        else:
            local = contract.symbol
            description = contract.symbol
        spec = self._spec(contract.conId) if contract.secType == "OPT" else None
        return TradeRecord(
            transaction_id=txn,
            trade_id=trade_id,
            when=when,
            trade_date=when.astimezone(ET).date(),
            transaction_type=transaction_type,
            buy_sell="BUY" if signed > 0 else "SELL",
            quantity=signed,
            price=price,
            proceeds=proceeds,
            commission=commission,
            net_cash=proceeds + commission,
            cost=cost,
            realized=realized,
            open_close=open_close,
            notes=notes,
            con_id=contract.conId,
            sec_type=contract.secType or "STK",
            symbol=contract.symbol,
            local_symbol=local,
            description=description,
            underlying_symbol=contract.symbol if contract.secType == "OPT" else "",
            underlying_con_id=int(getattr(spec, "underlying_con_id", 0) or 0),
            put_call=right,
            strike=strike,
            expiry=expiry,
            multiplier=mult,
            exchange=exchange,
            exec_id=exec_id,
            perm_id=o.perm_id if o else 0,
            order_id=o.order_id if o else 0,
            client_id=o.client_id if o else 0,
            order_ref=o.order.orderRef if o else "",
            order_type=o.order.orderType.upper() if o else "",
            order_time=o.placed_at if o else None,
            account=self.account_id,
        )

    # --- end of day ------------------------------------------------------------------------------

    def end_of_day(self, session_date: date) -> None:
        """Close of `session_date`: cancel DAY orders (with the children of an unfilled
        bracket parent, as IBKR does); expire, cash-settle, assign or exercise the options
        expiring that day; book it all for Flex."""
        for o in sorted(self.orders.values(), key=lambda x: x.seq):
            if o.is_open and (o.order.tif or "DAY").upper() == "DAY":
                self._cancel_at_close(o)
                if o.filled == 0:  # an unfilled bracket parent takes its children with it
                    for child in self._children(o):
                        if child.is_open:
                            self._cancel_at_close(child)
        when = datetime.combine(session_date, EOD_TIME, ET).astimezone(UTC)
        expiring = [
            p
            for p in list(self.positions_by_con.values())
            if p.contract.secType == "OPT" and expiry_of(p.contract) == session_date
        ]
        for pos in expiring:
            self._settle(pos, session_date, when)
        self._account_event()

    def _cancel_at_close(self, o: SimOrder) -> None:
        was_held = o.status == HELD
        o.status = CANCELLED
        o.completed_at = self._now()
        o.completed_status = "Cancelled at the close (DAY)"
        if not was_held:
            self._status(o)

    def _eae(
        self,
        contract: Contract,
        day: date,
        kind: str,
        quantity: Decimal,
        price: Decimal,
        proceeds: Decimal,
        cost_basis: Decimal,
        realized: Decimal,
        mark: Decimal,
    ) -> None:
        trade_id, txn = self._new_ids()
        opt = contract.secType == "OPT"
        spec = self._spec(contract.conId) if opt else None
        expiry = expiry_of(contract)
        strike = Decimal(str(contract.strike)) if opt else None
        right = contract.right[:1].upper() if opt else ""
        if opt and expiry is not None and strike is not None:
            local = contract.localSymbol or occ_symbol(contract.symbol, expiry, right, strike)
            description = option_description(contract.symbol, expiry, right, strike)
        else:
            local = description = contract.symbol
        self.ledger.eae.append(
            EAERecord(
                transaction_id=txn,
                trade_id=trade_id,
                day=day,
                transaction_type=kind,
                con_id=contract.conId,
                sec_type=contract.secType or "STK",
                symbol=contract.symbol,
                local_symbol=local,
                description=description,
                quantity=quantity,
                trade_price=price,
                mark_price=mark,
                proceeds=proceeds,
                cost_basis=cost_basis,
                realized=realized,
                multiplier=multiplier_of(contract),
                underlying_symbol=contract.symbol if opt else "",
                underlying_con_id=int(getattr(spec, "underlying_con_id", 0) or 0),
                put_call=right,
                strike=strike,
                expiry=expiry,
                account=self.account_id,
            )
        )

    def _book_trade(
        self,
        contract: Contract,
        when: datetime,
        signed: Decimal,
        price: Decimal,
        notes: str,
    ) -> TradeRecord:
        mult = multiplier_of(contract)
        realized, cost, open_close = self._book_position(contract, signed, price * mult, ZERO)
        self.cash += -signed * price * mult
        trade_id, txn = self._new_ids()
        record = self._trade_record(
            contract,
            trade_id=trade_id,
            txn=txn,
            when=when,
            transaction_type="BookTrade",
            signed=signed,
            price=price,
            commission=ZERO,
            cost=cost,
            realized=realized,
            open_close=open_close,
            notes=notes,
        )
        self.ledger.trades.append(record)
        self._position_event(contract)
        return record

    def _stock_contract(self, option: Contract) -> Contract:
        spec = self._spec(option.conId)
        con_id = int(getattr(spec, "underlying_con_id", 0) or 0)
        if not con_id:
            finder = getattr(self.market, "find", None)
            found = finder(option.symbol, "STK") if finder is not None else None
            con_id = int(getattr(found, "con_id", 0) or getattr(found, "conId", 0) or 0)
        return Contract(
            conId=con_id,
            symbol=option.symbol,
            secType="STK",
            exchange="SMART",
            currency="USD",
            localSymbol=option.symbol,
            tradingClass=option.symbol,
        )

    def _settle(self, pos: Position, day: date, when: datetime) -> None:
        contract = pos.contract
        qty = pos.quantity
        n = abs(qty)
        strike = Decimal(str(contract.strike))
        mult = multiplier_of(contract)
        spec = self._spec(contract.conId)
        if spec is not None and hasattr(self.market, "option_settlement"):
            settle = Decimal(str(self.market.option_settlement(spec)))
        else:
            settle = Decimal(str(self.market.settlement_price(contract.symbol, day)))
        cash_settled = bool(getattr(spec, "cash_settled", False)) or is_cash_settled(
            contract.symbol
        )
        put = contract.right.upper().startswith("P")
        intrinsic = max(ZERO, strike - settle) if put else max(ZERO, settle - strike)
        close_sign = Decimal(1) if qty < 0 else Decimal(-1)
        if intrinsic <= 0:
            rec = self._book_trade(contract, when, close_sign * n, ZERO, "Ep")
            self._eae(contract, day, "Expiration", qty, ZERO, ZERO, rec.cost, rec.realized, ZERO)
            return
        short = qty < 0
        kind = "Assignment" if short else "Exercise"
        note = "A" if short else "Ex"
        if cash_settled:
            rec = self._book_trade(contract, when, close_sign * n, intrinsic, note)
            self._eae(
                contract,
                day,
                kind,
                close_sign * n,
                ZERO,
                ZERO,
                rec.cost,
                ZERO,
                intrinsic,
            )
            self._eae(
                contract,
                day,
                "Cash Settlement",
                ZERO,
                intrinsic,
                rec.proceeds,
                rec.cost,
                rec.realized,
                intrinsic,
            )
            return
        # Physical delivery: close the option at 0, move its basis into the stock leg.
        basis = pos.avg_cost * n  # credit for shorts, debit for longs
        rec = self._book_trade(contract, when, close_sign * n, ZERO, note)
        # The option leg realizes nothing: its basis goes into the stock leg.
        self.realized_total -= rec.realized
        rec.realized = ZERO
        self._eae(contract, day, kind, close_sign * n, ZERO, ZERO, rec.cost, ZERO, intrinsic)
        stock = self._stock_contract(contract)
        shares = n * mult
        buys_stock = (put and short) or (not put and not short)
        stock_signed = shares if buys_stock else -shares
        srec = self._book_trade(stock, when, stock_signed, strike, note)
        spos = self.positions_by_con.get(stock.conId)
        if spos is not None and srec.open_close == "O" and spos.quantity == stock_signed:
            adjust = -basis if short else basis
            # short premium lowers a bought stock's cost / raises a sold one's proceeds
            spos.avg_cost = (spos.avg_cost * shares + adjust * (1 if buys_stock else -1)) / shares
            self._position_event(stock)
        self._eae(
            stock,
            day,
            "Buy" if buys_stock else "Sell",
            stock_signed,
            strike,
            -stock_signed * strike,
            strike * shares,
            ZERO,
            settle,
        )

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything, JSON-serialisable."""
        return {
            "version": STATE_VERSION,
            "account_id": self.account_id,
            "starting_cash": str(self.starting_cash),
            "cash": str(self.cash),
            "partial_fills": self.partial_fills,
            "seed": self.seed,
            "rng": _rng_state(self._rng),
            "orders": [o.to_dict() for o in sorted(self.orders.values(), key=lambda x: x.seq)],
            "positions": [
                {
                    "contract": contract_to_dict(p.contract),
                    "quantity": str(p.quantity),
                    "avg_cost": str(p.avg_cost),
                    "realized": str(p.realized),
                    "opened": p.opened.isoformat() if p.opened else None,
                }
                for p in self.positions_by_con.values()
            ],
            "executions": list(self.executions_log),
            "trades": [to_dict(t) for t in self.ledger.trades],
            "eae": [to_dict(e) for e in self.ledger.eae],
            "counters": {
                "perm": self._next_perm,
                "trade": self._next_trade,
                "txn": self._next_txn,
                "exec": self._next_exec,
                "seq": self._seq,
            },
            "reject_reasons": list(self._reject_reasons),
            "month_contracts": dict(self._month_contracts),
            "realized_total": str(self.realized_total),
        }

    @classmethod
    def from_state(
        cls,
        market: Any,
        clock: Any,
        state: dict[str, Any],
        listener: Callable[[BookEvent], None] | None = None,
    ) -> Book:
        """Rebuild a Book saved with to_state()."""
        book = cls(
            market,
            clock,
            account_id=state["account_id"],
            starting_cash=Decimal(state["starting_cash"]),
            listener=listener,
            partial_fills=bool(state.get("partial_fills", False)),
            seed=int(state.get("seed", 7)),
        )
        book.cash = Decimal(state["cash"])
        if state.get("rng") is not None:
            book._rng.setstate(_rng_from_json(state["rng"]))
        for data in state.get("orders", []):
            o = SimOrder.from_dict(data)
            book.orders[(o.client_id, o.order_id)] = o
        for data in state.get("positions", []):
            contract = contract_from_dict(data["contract"])
            opened = data.get("opened")
            book.positions_by_con[contract.conId] = Position(
                contract,
                Decimal(data["quantity"]),
                Decimal(data["avg_cost"]),
                Decimal(data.get("realized", "0")),
                datetime.fromisoformat(opened) if opened else None,
            )
        book.executions_log = list(state.get("executions", []))
        book.ledger = Ledger(
            trades=[from_dict(TradeRecord, t) for t in state.get("trades", [])],
            eae=[from_dict(EAERecord, e) for e in state.get("eae", [])],
        )
        counters = state.get("counters", {})
        book._next_perm = int(counters.get("perm", FIRST_PERM_ID))
        book._next_trade = int(counters.get("trade", FIRST_TRADE_ID))
        book._next_txn = int(counters.get("txn", FIRST_TRANSACTION_ID))
        book._next_exec = int(counters.get("exec", 1))
        book._seq = int(counters.get("seq", 0))
        book._reject_reasons = list(state.get("reject_reasons", []))
        book.realized_total = Decimal(state.get("realized_total", "0"))
        book._month_contracts = {k: int(v) for k, v in state.get("month_contracts", {}).items()}
        return book

    def session_day(self) -> date:
        """Today's date on the exchange's (New York) calendar."""
        return self._now().astimezone(ET).date()

    def history_span(self) -> tuple[date, date] | None:
        """First and last booked dates, None when nothing is booked."""
        days = [t.trade_date for t in self.ledger.trades] + [e.day for e in self.ledger.eae]
        if not days:
            return None
        return min(days), max(days)


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
