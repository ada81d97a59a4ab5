"""Position watcher: brings the database in line with what IBKR reports.

`Watcher.sync()` reads the broker's orders and fills (putdesk refs only), and in one
transaction: updates `orders` and intent statuses (a rejection keeps IBKR's reason, e.g.
ib.201 margin), notes orders changed by hand in TWS, stores new executions (exec_id is unique,
so a replay stores nothing twice) and recomputes each touched trade from its executions:
entry price, exit price, commission, gross and net P&L, status and bracket status.
`settle_expired()` closes trades whose option vanished after expiry (expired, or assigned
when stock appeared). Running either again with the same facts changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiosqlite

from engine.domain import Reason
from engine.execution.brackets import entry_ref_of, is_putdesk_ref
from engine.execution.crash import crash_point
from engine.execution.intents import IntentRepo
from engine.execution.ports import BrokerFill, BrokerOrder, BrokerPosition, OrderPort
from engine.execution.records import Recorder, iso, set_lineup
from engine.store.db import dec, dec_or_none, insert_row, money
from engine.store.lineup import sold_contracts

PRICE_Q = Decimal("0.0001")
STRATEGY = "putdesk"


def intent_status_for(order: BrokerOrder) -> str:
    """Map an IBKR order status onto an intent status."""
    if order.status == "Filled":
        return "filled"
    if order.status in ("Cancelled", "ApiCancelled"):
        return "rejected" if order.error and order.error.code == "ib.201" else "cancelled"
    if order.status == "Inactive":
        return "rejected" if order.error else "inactive"
    return "working"


#: Lineup states in which an entry order is out and execution is not changing it itself
#: (tier 2 marks an entry "repricing" before it cancels, so its own cancels never count).
ENTRY_OUT = ("submitted", "repriced")


def exit_protection(tps: list[BrokerOrder], sls: list[BrokerOrder]) -> str | None:
    """The bracket status an open trade's exit orders (every take-profit and stop IBKR
    reports for it, ended ones too) give it: `working` (each kind it has is working),
    `stop_only` / `take_profit_only` (one kind ended), `unprotected` (none working); None
    when IBKR reports no exit order for it, or one that filled (its execution, booked in this
    sync or the next, closes the trade: the other exit cancelled by OCA is no alarm)."""
    if not tps and not sls:
        return None
    if any(o.status == "Filled" for o in (*tps, *sls)):
        return None  # an exit filled: booking its execution closes the trade
    tp_on = any(o.working for o in tps)
    sl_on = any(o.working for o in sls)
    if (tp_on or not tps) and (sl_on or not sls):
        return "working"
    if sl_on:
        return "stop_only"
    if tp_on:
        return "take_profit_only"
    return "unprotected"


def leg_of(ref: str) -> str:
    if ref.endswith("-tp"):
        return "take_profit"
    if ref.endswith("-sl"):
        return "stop"
    return "entry"


@dataclass
class SyncReport:
    new_fills: list[BrokerFill] = field(default_factory=list)
    status_changes: list[tuple[str, str]] = field(default_factory=list)
    trades_opened: list[int] = field(default_factory=list)
    trades_closed: list[int] = field(default_factory=list)
    manual_changes: list[str] = field(default_factory=list)
    orders: list[BrokerOrder] = field(default_factory=list)

    def by_ref(self) -> dict[str, BrokerOrder]:
        return {o.order_ref: o for o in self.orders}


class Watcher:
    """Fills, partial fills, bracket children, rejections and manual changes -> database."""

    def __init__(
        self,
        port: OrderPort,
        intents: IntentRepo,
        recorder: Recorder,
        *,
        strategy: str = STRATEGY,
        multiplier: int = 100,
        regime_label: Callable[[], str | None] | None = None,
    ):
        self.port = port
        self.intents = intents
        self.store = intents.store
        self.rec = recorder
        self.strategy = strategy
        self.multiplier = multiplier
        #: the market regime's label now, stored with each trade this watcher opens
        self.regime_label = regime_label

    async def sync(self, now: dt.datetime) -> SyncReport:
        orders = [o for o in await self.port.orders() if is_putdesk_ref(o.order_ref)]
        fills = [f for f in await self.port.fills() if is_putdesk_ref(f.order_ref)]
        report = SyncReport(orders=orders)
        known = {
            r["exec_id"]
            for r in await self.store.fetchall(
                "SELECT exec_id FROM executions WHERE exec_id IS NOT NULL"
            )
        }
        fresh = [f for f in fills if f.exec_id not in known]
        commissions = {f.exec_id: f.commission for f in fills if f.commission is not None}
        if fresh:
            crash_point("before_fill_store")
        async with self.store.transaction() as conn:
            for o in orders:
                await self._apply_order(conn, o, now, report)
            touched: set[int] = set()
            if fresh:  # asked again inside the transaction: another sync may have stored some
                marks = ",".join("?" for _ in fresh)
                async with conn.execute(
                    f"SELECT exec_id FROM executions WHERE exec_id IN ({marks})",
                    [f.exec_id for f in fresh],
                ) as cur:
                    stored = {r[0] for r in await cur.fetchall()}
                fresh = [f for f in fresh if f.exec_id not in stored]
            for f in fresh:
                tid = await self._store_fill(conn, f, now, report)
                if tid:
                    touched.add(tid)
            touched |= await self._late_commissions(conn, commissions)
            for tid in sorted(touched):
                await self._recompute(conn, tid, now, report, by_ref=report.by_ref())
            await self._exit_protection(conn, now, report)
            events = await self.rec.write(conn)
        await self.rec.announce(events)
        return report

    async def _apply_order(
        self, conn: aiosqlite.Connection, o: BrokerOrder, now: dt.datetime, report: SyncReport
    ) -> None:
        row = await _one(
            conn, "SELECT * FROM orders WHERE order_ref=? ORDER BY id DESC LIMIT 1", (o.order_ref,)
        )
        intent = await _one(conn, "SELECT * FROM order_intents WHERE order_ref=?", (o.order_ref,))
        values: dict[str, Any] = {
            "account_id": self.intents.account_id,
            "intent_id": intent["id"] if intent else None,
            "order_ref": o.order_ref,
            "order_id": o.order_id,
            "perm_id": o.perm_id or None,
            "parent_id": o.parent_id,
            "symbol": o.symbol,
            "con_id": o.con_id,
            "action": o.action,
            "quantity": o.quantity,
            "order_type": o.order_type,
            "limit_price": money(o.limit_price),
            "aux_price": money(o.aux_price),
            "tif": o.tif,
            "status": o.status,
            "filled": o.filled,
            "remaining": o.remaining,
            "avg_fill_price": money(o.avg_fill_price),
            "why_held": o.why_held or None,
            "updated_at": iso(now),
        }
        if row is None:
            values["created_at"] = iso(now)
            await insert_row(conn, "orders", values)
        elif any(
            str(row[k]) != str(values[k])
            for k in ("status", "filled", "limit_price", "aux_price", "quantity", "perm_id")
        ):
            sets = ", ".join(f"{c}=?" for c in values)
            await conn.execute(
                f"UPDATE orders SET {sets} WHERE id=?", [*values.values(), row["id"]]
            )
        if intent is None:
            if row is None:
                self.rec.event(
                    "notice",
                    f"order {o.order_ref} at IBKR has no intent in this database",
                    now,
                    reason=Reason("recovery.orphan", "putdesk ref without an intent"),
                    severity="warning",
                    data={"order_ref": o.order_ref},
                )
            return
        new_status = intent_status_for(o)
        old_status = str(intent["status"])
        if new_status != old_status and old_status not in ("void",):
            reason = o.error
            if reason is None and new_status == "cancelled":
                if intent["cancel_code"]:  # putdesk asked for it, and said why
                    reason = Reason(str(intent["cancel_code"]), str(intent["cancel_text"] or ""))
                elif intent["reason_code"] is None:
                    reason = await self._ended_at_ibkr(conn, o)
            await conn.execute(
                "UPDATE order_intents SET status=?, updated_at=?, reason_code=COALESCE(?, "
                "reason_code), reason_text=COALESCE(?, reason_text) WHERE id=?",
                (
                    new_status,
                    iso(now),
                    reason.code if reason else None,
                    reason.text if reason else None,
                    intent["id"],
                ),
            )
            report.status_changes.append((o.order_ref, new_status))
            sev = "error" if new_status == "rejected" else "info"
            self.rec.event(
                "order.status",
                f"{o.order_ref} {o.status}" + (f": {reason.text}" if reason else ""),
                now,
                reason=reason,
                severity=sev,
                data={
                    "order_ref": o.order_ref,
                    "status": o.status,
                    "filled": o.filled,
                    "remaining": o.remaining,
                    "why_held": o.why_held,
                },
            )
            if new_status == "rejected" and intent["lineup_id"] and leg_of(o.order_ref) == "entry":
                assert reason is not None
                await set_lineup(
                    conn, int(intent["lineup_id"]), now, status="rejected", reason=reason
                )
            elif (
                new_status == "cancelled" and intent["lineup_id"] and leg_of(o.order_ref) == "entry"
            ):
                await self._entry_ended(conn, int(intent["lineup_id"]), o, now)
        changed = []
        if o.quantity != int(intent["quantity"]):
            changed.append(f"quantity {intent['quantity']} -> {o.quantity}")
        ilmt = dec_or_none(intent["limit_price"])
        if ilmt is not None and o.limit_price is not None and o.limit_price != ilmt:
            changed.append(f"limit {ilmt} -> {o.limit_price}")
        iaux = dec_or_none(intent["aux_price"])
        if iaux is not None and o.aux_price is not None and o.aux_price != iaux:
            changed.append(f"stop {iaux} -> {o.aux_price}")
        if changed:
            reason = Reason("order.changed_by_hand", f"{o.order_ref}: " + ", ".join(changed))
            await conn.execute(
                "UPDATE order_intents SET quantity=?, limit_price=?, aux_price=?, reason_code=?, "
                "reason_text=?, updated_at=? WHERE id=?",
                (
                    o.quantity,
                    money(o.limit_price) if ilmt is not None else None,
                    money(o.aux_price) if iaux is not None else None,
                    reason.code,
                    reason.text,
                    iso(now),
                    intent["id"],
                ),
            )
            report.manual_changes.append(o.order_ref)
            self.rec.event(
                "order.status",
                reason.text,
                now,
                reason=reason,
                severity="warning",
                data={"order_ref": o.order_ref},
            )

    async def _ended_at_ibkr(self, conn: aiosqlite.Connection, o: BrokerOrder) -> Reason:
        """Why an order putdesk did not cancel ended: a DAY entry at the close (or in TWS);
        a take-profit or stop with its entry order, when that entry ended unfilled."""
        if leg_of(o.order_ref) == "entry":
            if o.tif == "DAY":
                return Reason(
                    "order.cancelled",
                    f"IBKR reports {o.status} with {o.filled} sold: a DAY order ends at the "
                    "close (else cancelled in TWS or by IBKR)",
                )
            return Reason("order.cancelled", f"IBKR reports {o.status}")
        entry_ref = entry_ref_of(o.order_ref)
        entry = await _one(
            conn,
            "SELECT i.status, i.reason_text, COALESCE(MAX(o.filled), 0) AS filled "
            "FROM order_intents i LEFT JOIN orders o ON o.intent_id = i.id "
            "WHERE i.order_ref=? GROUP BY i.id",
            (entry_ref,),
        )
        if entry is not None and entry["status"] == "cancelled" and not int(entry["filled"]):
            why = str(entry["reason_text"] or "cancelled at IBKR")
            return Reason("order.cancelled", f"with its entry order {entry_ref}, unfilled: {why}")
        return Reason("order.cancelled", f"IBKR reports {o.status}")

    async def _entry_ended(
        self, conn: aiosqlite.Connection, lineup_id: int, o: BrokerOrder, now: dt.datetime
    ) -> None:
        """An entry order ended at IBKR without execution ending it (a DAY order at the
        close, a cancel in TWS or by IBKR): its lineup entry is closed with that reason."""
        row = await _one(conn, "SELECT quantity, status FROM lineup WHERE id=?", (lineup_id,))
        if row is None or row["status"] not in ENTRY_OUT:
            return
        sold, qty = await sold_contracts(conn, lineup_id), int(row["quantity"])
        status = "filled" if sold >= qty else ("partial" if sold else "cancelled")
        reason = Reason(
            "order.ended",
            f"{o.order_ref} {o.status} at IBKR with {sold} of {qty} sold "
            "(a DAY order ends at the close; else cancelled in TWS or by IBKR)",
        )
        await set_lineup(conn, lineup_id, now, status=status, reason=reason)
        self.rec.event(
            "execution.decision",
            reason.text,
            now,
            reason=reason,
            severity="info" if status == "filled" else "warning",
            data={"lineup_id": lineup_id, "status": status},
        )

    async def _trade_for(
        self,
        conn: aiosqlite.Connection,
        ref: str,
        create_from: BrokerFill | None,
        now: dt.datetime,
        report: SyncReport,
    ) -> int | None:
        intent = await _one(conn, "SELECT * FROM order_intents WHERE order_ref=?", (ref,))
        lineup_id = intent["lineup_id"] if intent else None
        if lineup_id is not None:
            row = await _one(
                conn,
                "SELECT id FROM trades WHERE lineup_id=? AND trade_strategy=? ORDER BY id LIMIT 1",
                (lineup_id, self.strategy),
            )
        else:
            row = await _one(
                conn,
                "SELECT id FROM trades WHERE entry_order_ref=? ORDER BY id LIMIT 1",
                (entry_ref_of(ref),),
            )
        if row is not None:
            return int(row["id"])
        if create_from is None:
            return None
        f = create_from
        lineup = None
        if lineup_id is not None:
            lineup = await _one(conn, "SELECT * FROM lineup WHERE id=?", (lineup_id,))
        tid = await insert_row(
            conn,
            "trades",
            {
                "account_id": self.intents.account_id,
                "trade_strategy": self.strategy,
                "symbol": f.symbol,
                "sec_type": f.sec_type,
                "con_id": f.con_id,
                "right": f.right or (intent["right"] if intent else None),
                "strike": money(f.strike)
                if f.strike is not None
                else (intent["strike"] if intent else None),
                "expiry": f.expiry or (intent["expiry"] if intent else None),
                "multiplier": self.multiplier,
                "quantity": f.quantity,
                "entry_time": iso(f.time),
                "entry_price": money(f.price),
                "status": "open",
                "entry_order_ref": entry_ref_of(ref),
                "entry_order_id": f.order_id,
                "entry_perm_id": f.perm_id,
                "bracket_status": "working",
                "lineup_id": lineup_id,
                "config_snapshot_id": lineup["config_snapshot_id"] if lineup else None,
                "stale": int(lineup["stale"]) if lineup else 0,
                "regime": self.regime_label() if self.regime_label is not None else None,
                "created_at": iso(now),
                "updated_at": iso(now),
            },
        )
        report.trades_opened.append(tid)  # announced after the fill that opened it
        return tid

    async def _store_fill(
        self, conn: aiosqlite.Connection, f: BrokerFill, now: dt.datetime, report: SyncReport
    ) -> int | None:
        is_entry = f.side == "SLD" and leg_of(f.order_ref) == "entry"
        opened_before = len(report.trades_opened)
        tid = await self._trade_for(conn, f.order_ref, f if is_entry else None, now, report)
        opened = len(report.trades_opened) > opened_before  # this fill opened the trade
        await conn.execute(
            "INSERT OR IGNORE INTO executions (account_id, exec_id, perm_id, order_id, order_ref, "
            "con_id, symbol, sec_type, right, strike, expiry, side, quantity, price, time, "
            "commission, source, trade_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                self.intents.account_id,
                f.exec_id,
                f.perm_id,
                f.order_id,
                f.order_ref,
                f.con_id,
                f.symbol,
                f.sec_type,
                f.right,
                money(f.strike),
                f.expiry,
                f.side,
                str(f.quantity),
                money(f.price),
                iso(f.time),
                money(f.commission),
                "api",
                tid,
            ),
        )
        report.new_fills.append(f)
        self.rec.event(
            "order.fill",
            f"{f.order_ref} {f.side} {f.quantity} @ {f.price}",
            now,
            data={
                "order_ref": f.order_ref,
                "exec_id": f.exec_id,
                "side": f.side,
                "quantity": f.quantity,
                "price": str(f.price),
                "trade_id": tid,
            },
        )
        if opened:
            self.rec.event(
                "trade.opened",
                f"sold {f.quantity} {f.symbol} {f.expiry} {f.strike}P @ {f.price}",
                now,
                data={"trade_id": tid, "order_ref": f.order_ref},
            )
        return tid

    async def _late_commissions(
        self, conn: aiosqlite.Connection, commissions: dict[str, Decimal]
    ) -> set[int]:
        touched: set[int] = set()
        if not commissions:
            return touched
        rows = await conn.execute_fetchall(
            "SELECT exec_id, trade_id FROM executions WHERE commission IS NULL AND exec_id IS "
            "NOT NULL"
        )
        for exec_id, trade_id in rows:
            c = commissions.get(exec_id)
            if c is not None:
                await conn.execute(
                    "UPDATE executions SET commission=? WHERE exec_id=?", (money(c), exec_id)
                )
                if trade_id:
                    touched.add(int(trade_id))
        return touched

    async def _exit_protection(
        self, conn: aiosqlite.Connection, now: dt.datetime, report: SyncReport
    ) -> None:
        """An open trade whose exit orders changed state gets the bracket status they leave
        it with: a kill switch or a cancel in TWS that ends its exits says `unprotected`
        (and warns), never a stale `working`; exits placed again make it `working`."""
        changed = [ref for ref, _status in report.status_changes if leg_of(ref) != "entry"]
        seen: set[int] = set()
        for ref in changed:
            trade = await self._trade_of_exit(conn, ref)
            if trade is None or int(trade["id"]) in seen:
                continue
            seen.add(int(trade["id"]))
            lid = trade["lineup_id"]
            prefix = f"pd-L{lid}-" if lid is not None else f"{trade['entry_order_ref']}-"
            exits = [
                o
                for o in report.orders
                if o.order_ref.startswith(prefix) and leg_of(o.order_ref) != "entry"
            ]
            state = exit_protection(
                [o for o in exits if leg_of(o.order_ref) == "take_profit"],
                [o for o in exits if leg_of(o.order_ref) == "stop"],
            )
            if state is None or state == trade["bracket_status"]:
                continue
            await conn.execute(
                "UPDATE trades SET bracket_status=?, updated_at=? WHERE id=?",
                (state, iso(now), trade["id"]),
            )
            if state == "unprotected":
                self.rec.event(
                    "notice",
                    f"trade {trade['id']} {trade['symbol']}: no exit order is working "
                    "(take-profit and stop ended); the position is open without them",
                    now,
                    reason=Reason("bracket.unprotected", "exit orders ended, position open"),
                    severity="warning",
                    data={"trade_id": trade["id"]},
                )

    async def _trade_of_exit(self, conn: aiosqlite.Connection, ref: str) -> Any:
        """The open trade an exit order belongs to: by its intent's lineup entry, else by
        the entry ref it hangs from (NakedTrader)."""
        intent = await _one(conn, "SELECT lineup_id FROM order_intents WHERE order_ref=?", (ref,))
        if intent is not None and intent["lineup_id"] is not None:
            return await _one(
                conn,
                "SELECT * FROM trades WHERE lineup_id=? AND trade_strategy=? AND status='open' "
                "ORDER BY id LIMIT 1",
                (intent["lineup_id"], self.strategy),
            )
        return await _one(
            conn,
            "SELECT * FROM trades WHERE entry_order_ref=? AND status='open' ORDER BY id LIMIT 1",
            (entry_ref_of(ref),),
        )

    async def _recompute(
        self,
        conn: aiosqlite.Connection,
        trade_id: int,
        now: dt.datetime,
        report: SyncReport,
        *,
        by_ref: dict[str, BrokerOrder] | None = None,
    ) -> None:
        """Derive the trade from its executions (idempotent)."""
        trade = await _one(conn, "SELECT * FROM trades WHERE id=?", (trade_id,))
        assert trade is not None
        rows = await conn.execute_fetchall(
            "SELECT side, quantity, price, commission, time, order_ref, order_id FROM executions "
            "WHERE trade_id=? ORDER BY time, id",
            (trade_id,),
        )
        sold = bought = 0
        sold_value = bought_value = Decimal(0)
        commission = Decimal(0)
        last_exit_time = None
        exit_legs: set[str] = set()
        for side, qty, price, comm, t, ref, _oid in rows:
            q = int(Decimal(str(qty)))
            p = dec(price)
            if comm is not None:
                commission += abs(dec(comm))
            if side == "SLD":
                sold += q
                sold_value += p * q
            else:
                bought += q
                bought_value += p * q
                last_exit_time = t
                exit_legs.add(leg_of(str(ref)))
        if sold == 0:
            return
        mult = int(trade["multiplier"])
        entry = (sold_value / sold).quantize(PRICE_Q)
        values: dict[str, Any] = {
            "quantity": sold,
            "entry_price": money(entry.normalize()),
            "commission": money(commission),
            "updated_at": iso(now),
        }
        settled = trade["exit_reason"] in ("expired", "assigned")
        closed_qty = sold if settled else bought
        if closed_qty >= sold:
            exit_avg = (bought_value / sold).quantize(PRICE_Q)
            gross = (sold_value - bought_value) * mult
            reason = (
                trade["exit_reason"]
                if settled
                else (
                    "stop"
                    if "stop" in exit_legs
                    else "take_profit"
                    if "take_profit" in exit_legs
                    else "bought_back"
                )
            )
            values.update(
                {
                    "status": "closed",
                    "exit_price": money(exit_avg.normalize()),
                    "exit_time": trade["exit_time"] if settled else last_exit_time,
                    "exit_reason": reason,
                    "gross_pnl": money(gross),
                    "net_pnl": money(gross - commission),
                    "bracket_status": {
                        "take_profit": "take_profit_filled",
                        "stop": "stop_filled",
                    }.get(reason, reason),
                }
            )
            if trade["status"] != "closed":
                report.trades_closed.append(trade_id)
                self.rec.event(
                    "trade.closed",
                    f"trade {trade_id} {trade['symbol']} closed ({reason}): net "
                    f"{money(gross - commission)}",
                    now,
                    data={
                        "trade_id": trade_id,
                        "exit_reason": reason,
                        "net_pnl": money(gross - commission),
                    },
                )
        else:
            values["status"] = "open"
            if bought:
                values["bracket_status"] = "partially_closed"
        if by_ref is not None and trade["entry_order_ref"]:
            key = str(trade["entry_order_ref"])
            tp = by_ref.get(f"{key}-tp")
            sl = by_ref.get(f"{key}-sl")
            if tp:
                values["exit_order_id"] = tp.order_id
            if sl:
                values["stop_order_id"] = sl.order_id
        sets = ", ".join(f"{c}=?" for c in values)
        await conn.execute(f"UPDATE trades SET {sets} WHERE id=?", [*values.values(), trade_id])
        if trade["lineup_id"] is not None and leg_of(str(trade["entry_order_ref"])) == "entry":
            lineup = await _one(
                conn, "SELECT quantity, status FROM lineup WHERE id=?", (trade["lineup_id"],)
            )
            if (
                lineup is not None
                and lineup["status"] not in ("filled", "cancelled", "rejected")
                and sold >= int(lineup["quantity"])
            ):
                await set_lineup(conn, int(trade["lineup_id"]), now, status="filled")

    async def settle_expired(
        self, positions: list[BrokerPosition], today: dt.date, now: dt.datetime
    ) -> list[int]:
        """After the close of `today`: this watcher's strategy's open option trades expiring on
        or before today whose position has vanished are closed as expired (or assigned when the
        stock appeared). Other strategies settle their own trades (NakedTrader cash-settles
        index puts)."""
        held = {p.con_id for p in positions if p.quantity != 0}
        stock = {p.symbol: p.quantity for p in positions if p.sec_type == "STK"}
        closed: list[int] = []
        report = SyncReport()
        async with self.store.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT id, symbol, con_id, expiry, quantity, multiplier FROM trades WHERE "
                "account_id IS ? AND status='open' AND sec_type='OPT' AND trade_strategy=?",
                (self.intents.account_id, self.strategy),
            )
            for tid, symbol, con_id, expiry, qty, mult in rows:
                if not expiry or dt.datetime.strptime(str(expiry), "%Y%m%d").date() > today:
                    continue
                if con_id in held:
                    continue
                assigned = stock.get(str(symbol), 0) >= int(qty) * int(mult)
                reason = "assigned" if assigned else "expired"
                await conn.execute(
                    "UPDATE trades SET exit_reason=?, exit_time=?, bracket_status=?, "
                    "updated_at=? WHERE id=?",
                    (reason, iso(now), reason, iso(now), tid),
                )
                await self._recompute(conn, int(tid), now, report)
                closed.append(int(tid))
            events = await self.rec.write(conn)
        await self.rec.announce(events)
        return closed


async def _one(
    conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]
) -> dict[str, Any] | None:
    async with conn.execute(sql, params) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return {k: row[k] for k in row.keys()}  # noqa: SIM118
