"""reconcile-eod: book a parsed Flex statement against the trades database.

`plan_reconcile` is pure: given the statement and the relevant database state it decides
every change (new executions, corrected prices, new manual trades, closes by expiry or
assignment, commissions) and explains each one. `reconcile_statement` loads that state,
plans and writes everything in one transaction, and records the import in `flex_imports`;
rows already booked (their key is in `flex_rows`) are skipped, so a second run changes no
trade or execution.

Matching, in order: an execution already stored under the fill's `ibExecID` (its price and
commission are corrected); the trade whose entry order carried the fill's `orderReference`,
or whose entry permId / order id is the fill's `ibOrderID`; for closing fills the trade whose
take-profit or stop order is that order, else the oldest open trade in the contract (FIFO).
Anything unmatched becomes a trade of strategy "manual".

Open or close: the Flex `openCloseIndicator` decides when the query includes it. Without it,
a fill closes when an open trade on the other side exists in the contract, when it is an
option's expiry/assignment/exercise (notes A / Ep / Ex or a matching OptionEAE row), or when
it sells stock (shares held from before the records began); otherwise it opens. Closes with
nothing open to close are booked as closed trades with an unknown entry, flagged estimated.

Assignment: the short option closes with exit reason "assigned" at price 0; the stock leg
is linked to it (`related_trade_id`) and its `basis_adjustment` is minus the premium per
share for a sold option (a put's premium lowers the stock's basis: basis = strike - premium)
and plus the premium for a bought one. P&L of the stock trade uses its entry price, so the
premium is not counted twice; `basis_per_share` carries the tax basis.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from engine.records.importer import FlexEAE, FlexFill, ParsedStatement
from engine.records.pnl import ZERO
from engine.store.db import Store, insert_row, to_json, update_row, utcnow_iso
from engine.store.trades import (
    ExecutionRow,
    TradeRow,
    insert_executions,
    insert_trades,
    next_id,
    update_executions,
    update_trades,
)

MANUAL = "manual"
CLOSE_ACTIONS = {"Assignment": "assigned", "Expiration": "expired", "Exercise": "exercised"}
NOTE_REASONS = (("A", "assigned"), ("Ep", "expired"), ("Ex", "exercised"))
QUANT = Decimal("0.0000000001")


@dataclass(frozen=True)
class Change:
    """One thing reconciliation did, for the summary and the events log."""

    kind: str  # opened, closed, corrected, commission, assigned_leg, orphan_close, linked
    trade_id: int | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "trade_id": self.trade_id, "text": self.text}


@dataclass
class LedgerState:
    """The part of the database a statement can touch, loaded before planning."""

    trades: dict[int, TradeRow]
    execs_by_exec_id: dict[str, ExecutionRow]
    execs_by_trade: dict[int, list[ExecutionRow]]
    known_keys: set[str]
    next_trade_id: int
    next_exec_id: int


@dataclass
class ReconcilePlan:
    new_trades: dict[int, TradeRow] = field(default_factory=dict)
    changed_trades: dict[int, TradeRow] = field(default_factory=dict)
    new_execs: list[ExecutionRow] = field(default_factory=list)
    changed_execs: dict[int, ExecutionRow] = field(default_factory=dict)
    new_rows: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class ReconcileSummary:
    """What a reconcile run did (also stored as `flex_imports.summary_json`)."""

    import_id: int | None
    account_id: str | None
    from_date: str | None
    to_date: str | None
    rows_total: int
    rows_new: int
    rows_skipped: int
    counts: dict[str, int]
    problems: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    net_pnl_closed: dict[str, str]
    commission_booked: str
    status: str

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "account_id": self.account_id,
            "from_date": self.from_date,
            "to_date": self.to_date,
            "rows_total": self.rows_total,
            "rows_new": self.rows_new,
            "rows_skipped": self.rows_skipped,
            "counts": dict(sorted(self.counts.items())),
            "problems": self.problems,
            "changes": self.changes,
            "net_pnl_closed": self.net_pnl_closed,
            "commission_booked": self.commission_booked,
            "status": self.status,
        }

    def headline(self) -> str:
        c = self.counts
        return (
            f"{self.rows_new} new row(s), {self.rows_skipped} already booked; "
            f"opened {c.get('opened', 0)}, closed {c.get('closed', 0)} "
            f"(expired {c.get('expired', 0)}, assigned {c.get('assigned', 0)}), "
            f"corrected {c.get('corrected', 0)}, manual {c.get('manual', 0)}; "
            f"{len(self.problems)} problem row(s)"
        )


def _norm_side(side: str | None) -> str:
    return "BUY" if (side or "").upper() in ("BUY", "BOT", "B") else "SELL"


def allocate(amount: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split `amount` pro rata to `weights`; the parts add up to `amount` exactly."""
    total = sum(weights)
    if total == 0 or not weights:
        return [amount] + [ZERO] * (len(weights) - 1) if weights else []
    parts = [(amount * w / total).quantize(QUANT).normalize() for w in weights[:-1]]
    parts.append((amount - sum(parts, ZERO)).normalize())
    return parts


def _wavg(pairs: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    qty = ZERO
    val = ZERO
    for q, p in pairs:
        qty += q
        val += q * p
    if qty == 0:
        return None
    return val / qty


class _Planner:
    def __init__(self, stmt: ParsedStatement, state: LedgerState, now: str):
        self.stmt = stmt
        self.s = state
        self.now = now
        self.p = ReconcilePlan()
        self.account = stmt.account_id
        self.eae_by_con_date: dict[tuple[int | None, dt.date | None], list[FlexEAE]] = {}
        for e in stmt.eaes:
            self.eae_by_con_date.setdefault((e.con_id, e.date), []).append(e)
        self.flex_open_qty: dict[int, Decimal] = {}
        self.by_con: dict[int | None, list[TradeRow]] = {}
        self.by_ref: dict[str, list[TradeRow]] = {}
        self.by_oid: dict[int, list[TradeRow]] = {}
        self.assigned: dict[tuple[str, dt.date], list[TradeRow]] = {}
        for t in state.trades.values():
            self.index(t)
        self.new_exec_ids: set[int] = set()
        self.by_order: dict[tuple[int, int | None], int] = {}  # (ibOrderID, con) -> new trade

    # --- bookkeeping -------------------------------------------------------------------

    def touch(self, t: TradeRow) -> None:
        t.updated_at = self.now
        if t.id not in self.p.new_trades:
            self.p.changed_trades[t.id] = t

    def note(self, kind: str, trade_id: int | None, text: str) -> None:
        self.p.changes.append(Change(kind, trade_id, text))
        self.p.counts[kind] += 1

    def new_trade(self, **kw: Any) -> TradeRow:
        tid = self.s.next_trade_id
        self.s.next_trade_id += 1
        t = TradeRow(id=tid, created_at=self.now, updated_at=self.now, **kw)
        self.s.trades[tid] = t
        self.p.new_trades[tid] = t
        self.index(t)
        return t

    def index(self, t: TradeRow) -> None:
        """Lookup tables so planning stays linear in the statement's size."""
        self.by_con.setdefault(t.con_id, []).append(t)
        if t.entry_order_ref:
            self.by_ref.setdefault(t.entry_order_ref, []).append(t)
        for oid in {t.entry_perm_id, t.entry_order_id}:
            if oid is not None:
                self.by_oid.setdefault(oid, []).append(t)
        self.index_assigned(t)

    def index_assigned(self, t: TradeRow) -> None:
        if (
            t.status == "closed"
            and t.sec_type in ("OPT", "FOP")
            and t.exit_reason in ("assigned", "exercised")
            and t.exit_time is not None
        ):
            key = (t.symbol, t.exit_time.astimezone(dt.UTC).date())
            lst = self.assigned.setdefault(key, [])
            if t not in lst:
                lst.append(t)

    def new_exec(self, f: FlexFill, trade_id: int | None) -> ExecutionRow:
        ex = ExecutionRow(
            id=self.s.next_exec_id,
            quantity=abs(f.quantity),
            price=f.price,
            time=f.time,
            side=f.side,
            account_id=f.account_id,
            exec_id=f.exec_id,
            flex_transaction_id=f.key,
            perm_id=f.order_id,
            order_ref=f.order_ref,
            con_id=f.con_id,
            symbol=f.symbol,
            sec_type=f.sec_type,
            right=f.right,
            strike=f.strike,
            expiry=f.expiry,
            commission=f.commission,
            commission_currency=f.commission_currency,
            source="flex",
            trade_id=trade_id,
        )
        self.s.next_exec_id += 1
        self.p.new_execs.append(ex)
        self.new_exec_ids.add(ex.id)
        if f.exec_id:
            self.s.execs_by_exec_id[f.exec_id] = ex
        if trade_id is not None:
            self.s.execs_by_trade.setdefault(trade_id, []).append(ex)
        return ex

    # --- classification ---------------------------------------------------------------

    def close_reason(self, f: FlexFill) -> str | None:
        """Expiry / assignment / exercise of an option fill, from notes or OptionEAE."""
        if not f.is_option:
            return None
        for code, reason in NOTE_REASONS:
            if code in f.notes:
                return reason
        if f.transaction_type == "BookTrade" or f.price == 0:
            for e in self.eae_by_con_date.get((f.con_id, f.trade_date), []):
                if e.action in CLOSE_ACTIONS:
                    return CLOSE_ACTIONS[e.action]
        return None

    def leg_reason(self, f: FlexFill) -> str | None:
        """Is this stock/future fill the delivery leg of an assignment or exercise?"""
        if f.is_option:
            return None
        if "A" in f.notes:
            return "assigned"
        if "Ex" in f.notes:
            return "exercised"
        if f.transaction_type == "BookTrade":
            for e in self.eae_by_con_date.get((f.con_id, f.trade_date), []):
                if e.action in ("Buy", "Sell"):
                    return "assigned"
        return None

    def open_on(self, con_id: int | None, side: str, symbol: str) -> list[TradeRow]:
        pool = (
            self.by_con.get(con_id, [])
            if con_id is not None
            else [t for t in self.s.trades.values() if t.con_id is None]
        )
        out = [
            t
            for t in pool
            if t.status == "open"
            and t.side == side
            and (t.con_id == con_id if con_id is not None else t.symbol == symbol)
            and (t.account_id in (None, self.account) or self.account is None)
        ]
        out.sort(key=lambda t: (t.entry_time or dt.datetime.min.replace(tzinfo=dt.UTC), t.id))
        return out

    # --- the fill ---------------------------------------------------------------------

    def process(self, f: FlexFill) -> None:
        self.p.counts["fills"] += 1
        if f.exec_id and f.exec_id in self.s.execs_by_exec_id:
            self.correct(f, self.s.execs_by_exec_id[f.exec_id])
            return
        reason = self.close_reason(f)
        leg = self.leg_reason(f)
        closes_side = "long" if f.side == "SELL" else "short"
        oc = f.open_close
        remaining = f.abs_qty
        execs_for: list[int] = []
        if oc in ("C", "C;O") or (oc is None and self.should_close(f, reason, closes_side)):
            remaining = self.close_against(f, remaining, reason or leg, closes_side, execs_for)
            if remaining > 0 and (oc == "C" or (oc is None and (reason or self.held_stock(f)))):
                t = self.orphan_close(f, remaining, reason or leg, closes_side)
                execs_for.append(t.id)
                remaining = 0
        if remaining > 0:
            t = self.open_fill(f, remaining)
            execs_for.append(t.id)
        ex = self.new_exec(f, execs_for[0] if execs_for else None)
        for tid in execs_for[1:]:
            self.s.execs_by_trade.setdefault(tid, []).append(ex)
        if leg:
            self.link_leg(f, leg, execs_for)

    def held_stock(self, f: FlexFill) -> bool:
        return f.sec_type == "STK" and f.side == "SELL"

    def should_close(self, f: FlexFill, reason: str | None, closes_side: str) -> bool:
        if reason is not None:
            return True
        if self.open_on(f.con_id, closes_side, f.symbol):
            return True
        return self.held_stock(f)

    def correct(self, f: FlexFill, ex: ExecutionRow) -> None:
        """The fill is already stored (live, by exec id): Flex corrects price and commission."""
        changed = []
        if ex.price != f.price:
            changed.append(f"price {ex.price} -> {f.price}")
            ex.price = f.price
        delta = f.commission - (ex.commission or ZERO)
        if delta:
            changed.append(f"commission {ex.commission or 0} -> {f.commission}")
            ex.commission = f.commission
        if ex.flex_transaction_id is None:
            ex.flex_transaction_id = f.key
            changed.append("confirmed by Flex")
        if changed and ex.id not in self.new_exec_ids:
            self.p.changed_execs[ex.id] = ex
        t = self.s.trades.get(ex.trade_id) if ex.trade_id is not None else None
        if t is None:
            if ex.trade_id is None:
                self.note("unlinked", None, f"execution {f.exec_id} has no trade; {changed}")
            return
        before = (t.entry_price, t.exit_price, t.commission)
        if delta:
            t.commission += delta
        self.reprice(t)
        t.recompute_pnl()
        if (t.entry_price, t.exit_price, t.commission) != before:
            self.touch(t)
            self.note(
                "corrected",
                t.id,
                f"trade #{t.id} {t.symbol}: entry {before[0]} -> {t.entry_price}, exit "
                f"{before[1]} -> {t.exit_price}, commission {before[2]} -> {t.commission}",
            )

    def reprice(self, t: TradeRow) -> None:
        """Entry/exit prices as the quantity-weighted average of the trade's executions."""
        execs = self.s.execs_by_trade.get(t.id, [])
        opening = "SELL" if t.side == "short" else "BUY"
        ent = _wavg((e.quantity, e.price) for e in execs if _norm_side(e.side) == opening)
        ext = _wavg((e.quantity, e.price) for e in execs if _norm_side(e.side) != opening)
        if ent is not None:
            t.entry_price = ent
        if ext is not None and t.status == "closed":
            t.exit_price = ext

    def match_entry(self, f: FlexFill, side: str) -> TradeRow | None:
        pool = (self.by_ref.get(f.order_ref, []) if f.order_ref else []) + (
            self.by_oid.get(f.order_id, []) if f.order_id else []
        )
        for t in pool:
            if t.side != side or (
                t.con_id is not None and f.con_id is not None and t.con_id != f.con_id
            ):
                continue
            if f.order_ref and t.entry_order_ref == f.order_ref:
                return t
            if f.order_id and f.order_id in (t.entry_perm_id, t.entry_order_id):
                return t
        return None

    def open_fill(self, f: FlexFill, qty: int) -> TradeRow:
        side = "short" if f.side == "SELL" else "long"
        t = self.match_entry(f, side)
        commission = (
            f.commission if qty == f.abs_qty else allocate(f.commission, [qty, f.abs_qty - qty])[0]
        )
        if t is None and f.order_id is not None:
            tid = self.by_order.get((f.order_id, f.con_id))
            t = self.s.trades.get(tid) if tid is not None else None
            if t is not None and t.status == "open":
                done = self.flex_open_qty.get(t.id, ZERO)
                t.entry_price = _wavg([(done, t.entry_price or ZERO), (Decimal(qty), f.price)])
                t.quantity += qty
                t.commission += commission
                self.flex_open_qty[t.id] = done + qty
                self.note("filled", t.id, f"trade #{t.id} {t.symbol}: +{qty} @ {f.price}")
                return t
        if t is not None:
            done = self.flex_open_qty.get(t.id, ZERO)
            before = t.entry_price
            t.entry_price = (
                f.price
                if done == 0
                else _wavg([(done, t.entry_price or ZERO), (Decimal(qty), f.price)])
            )
            if done + qty > t.quantity:
                t.quantity = int(done + qty)
            self.flex_open_qty[t.id] = done + qty
            t.commission += commission
            if t.status not in ("open", "closed"):
                t.status = "open"  # e.g. 'pending' while the entry order was working
            if t.entry_time is None:
                t.entry_time = f.time
            t.recompute_pnl()
            self.touch(t)
            self.note(
                "corrected",
                t.id,
                f"trade #{t.id} {t.symbol}: entry {before} -> {t.entry_price} "
                f"(order {f.order_ref or f.order_id}), commission +{commission}",
            )
            return t
        t = self.new_trade(
            account_id=f.account_id,
            trade_strategy=MANUAL,
            symbol=f.symbol,
            quantity=qty,
            side=side,
            sec_type=f.sec_type,
            con_id=f.con_id,
            right=f.right,
            strike=f.strike,
            expiry=f.expiry,
            multiplier=f.multiplier,
            currency=f.currency,
            entry_time=f.time,
            entry_price=f.price,
            commission=commission,
            entry_order_ref=f.order_ref,
            entry_perm_id=f.order_id,
            notes="from Flex",
        )
        self.flex_open_qty[t.id] = Decimal(qty)
        if f.order_id is not None:
            self.by_order[(f.order_id, f.con_id)] = t.id
        self.note("opened", t.id, f"trade #{t.id} {self.describe(t)} opened @ {f.price}")
        self.p.counts["manual"] += 1
        return t

    def close_against(
        self,
        f: FlexFill,
        qty: int,
        reason: str | None,
        side: str,
        execs_for: list[int],
    ) -> int:
        """Close open trades on `side` with this fill; returns the quantity left over."""
        candidates = self.open_on(f.con_id, side, f.symbol)
        # the trade whose bracket order this is; else hand-made trades (a manual round trip
        # pairs with the manual open), then the strategies' trades, oldest first
        by_order = [
            t
            for t in candidates
            if f.order_id is not None and f.order_id in (t.exit_order_id, t.stop_order_id)
        ]
        manual = [t for t in candidates if t.trade_strategy == MANUAL and t not in by_order]
        rest = [t for t in candidates if t not in by_order and t not in manual]
        candidates = by_order + manual + rest
        takes: list[tuple[TradeRow, int]] = []
        left = qty
        for t in candidates:
            if left <= 0:
                break
            take = min(left, t.quantity)
            takes.append((t, take))
            left -= take
        if not takes:
            return qty
        shares = allocate(f.commission, [take for _, take in takes] + ([left] if left else []))
        for (t, take), comm in zip(takes, shares, strict=False):
            if take < t.quantity:
                t = self.split(t, take)
            why = reason
            if why is None and f.order_id is not None:
                if f.order_id == t.exit_order_id:
                    why = "take_profit"
                elif f.order_id == t.stop_order_id:
                    why = "stop"
            self.close(t, f, why or "closed", comm)
            execs_for.append(t.id)
        return left

    def split(self, t: TradeRow, take: int) -> TradeRow:
        """Carve `take` units off an open trade into a new trade (entry commission pro rata)."""
        part, rest = allocate(t.commission, [take, t.quantity - take])
        child = self.new_trade(
            **{
                k: v
                for k, v in vars(replace(t, quantity=take, commission=part)).items()
                if k not in ("id", "created_at", "updated_at")
            }
        )
        child.related_trade_id = t.related_trade_id or t.id
        child.notes = f"{take} of trade #{t.id}"
        t.quantity -= take
        t.commission = rest
        self.touch(t)
        self.note("split", t.id, f"trade #{t.id}: {take} split off as #{child.id}")
        return child

    def close(self, t: TradeRow, f: FlexFill, reason: str, commission: Decimal) -> None:
        price = f.price  # IBKR books expiries and physical assignments at 0, cash ones at value
        t.exit_price = price
        t.exit_time = f.time
        t.exit_reason = reason
        t.commission += commission
        t.status = "closed"
        if reason == "exercised" and any(
            e.action == "Cash Settlement"
            for e in self.eae_by_con_date.get((f.con_id, f.trade_date), [])
        ):
            t.estimated = True
            t.notes = "cash-settled exercise: the settlement amount is not in the statement"
        t.recompute_pnl()
        self.touch(t)
        self.index_assigned(t)
        kind = reason if reason in ("expired", "assigned", "exercised") else "closed"
        if kind != "closed":
            self.p.counts["closed"] += 1
        self.note(
            kind,
            t.id,
            f"trade #{t.id} {self.describe(t)} {reason} @ {price}, net {t.net_pnl}",
        )

    def orphan_close(self, f: FlexFill, qty: int, reason: str | None, side: str) -> TradeRow:
        """A close with nothing open to close: booked closed, entry unknown, estimated."""
        commission = (
            f.commission if qty == f.abs_qty else allocate(f.commission, [f.abs_qty - qty, qty])[1]
        )
        t = self.new_trade(
            account_id=f.account_id,
            trade_strategy=MANUAL,
            symbol=f.symbol,
            quantity=qty,
            side=side,
            sec_type=f.sec_type,
            con_id=f.con_id,
            right=f.right,
            strike=f.strike,
            expiry=f.expiry,
            multiplier=f.multiplier,
            currency=f.currency,
            entry_time=None,
            entry_price=None,
            estimated=True,
            notes="closed in Flex; opened before the records began (entry unknown)",
        )
        self.p.counts["manual"] += 1
        self.note("orphan_close", t.id, f"trade #{t.id} {self.describe(t)}: close without an open")
        self.close(t, f, reason or "closed", commission)
        return t

    def link_leg(self, f: FlexFill, leg: str, trade_ids: list[int]) -> None:
        """Tie a stock/future delivery leg to the option it came from; adjust its basis."""
        want_right = {
            ("BUY", "short"): "P",
            ("BUY", "long"): "C",
            ("SELL", "short"): "C",
            ("SELL", "long"): "P",
        }
        options = self.assigned.get((f.symbol, f.time.date()), [])
        opt = None
        for o in options:
            if o.right in (None, want_right[(f.side, o.side)]):
                opt = o
                break
        if opt is None:
            self.note(
                "assigned_leg",
                trade_ids[0] if trade_ids else None,
                f"{f.symbol} {f.side} {f.abs_qty} @ {f.price}: delivery leg, option not in records",
            )
            return
        per_share = opt.entry_price
        for tid in trade_ids:
            t = self.s.trades[tid]
            t.related_trade_id = opt.id
            if per_share is not None:
                t.basis_adjustment = -per_share if opt.side == "short" else per_share
            t.notes = f"{leg}: option trade #{opt.id} ({self.describe(opt)})"
            self.touch(t)
            self.note(
                "assigned_leg",
                t.id,
                f"trade #{t.id} {t.symbol} {f.side} {f.abs_qty} @ {f.price} from trade #{opt.id}; "
                f"basis per share {t.basis_per_share}",
            )

    def eae_close(self, e: FlexEAE) -> None:
        """An OptionEAE close with no Trade row in the statement: close what is open."""
        reason = CLOSE_ACTIONS[e.action]
        qty = int(abs(e.quantity))
        for side in ("short", "long"):
            for t in self.open_on(e.con_id, side, e.symbol):
                if qty <= 0:
                    return
                if t.quantity > qty:
                    t = self.split(t, qty)
                qty -= t.quantity
                fake = FlexFill(
                    key=e.key,
                    kind="eae",
                    seq=e.seq,
                    account_id=e.account_id,
                    symbol=t.symbol,
                    underlying_symbol=e.underlying_symbol,
                    underlying_con_id=None,
                    con_id=e.con_id,
                    sec_type=e.sec_type,
                    right=e.right,
                    strike=t.strike,
                    expiry=t.expiry,
                    multiplier=t.multiplier,
                    currency=t.currency,
                    quantity=Decimal(t.quantity if side == "short" else -t.quantity),
                    price=ZERO,
                    time=dt.datetime.combine(e.date or dt.date.today(), dt.time(21), tzinfo=dt.UTC),
                    trade_date=e.date or dt.date.today(),
                    commission=e.commission,
                    commission_currency=None,
                    open_close="C",
                    notes=(),
                    transaction_type="BookTrade",
                    exec_id=None,
                    order_id=None,
                    order_ref=None,
                    trade_id=None,
                    transaction_id=None,
                    payload=e.payload,
                )
                self.close(t, fake, reason, e.commission)

    @staticmethod
    def describe(t: TradeRow) -> str:
        if t.sec_type in ("OPT", "FOP"):
            contract = f"{t.expiry or ''} {t.strike or ''}{t.right or ''}".strip()
            return f"{t.side} {t.quantity} {t.symbol} {contract}".strip()
        return f"{t.side} {t.quantity} {t.symbol} ({t.sec_type})"

    # --- the statement ----------------------------------------------------------------

    def run(self) -> ReconcilePlan:
        seen: set[str] = set()
        fresh: list[FlexFill] = []
        for f in self.stmt.fills:
            if f.key in self.s.known_keys or f.key in seen:
                self.p.counts["skipped"] += 1
                continue
            seen.add(f.key)
            fresh.append(f)
        fresh.sort(key=lambda f: (f.time, 1 if self.leg_reason(f) else 0, f.seq))
        for f in fresh:
            self.process(f)
            self.p.new_rows.append(
                (f.key, f.kind, f.account_id, json.dumps(f.payload, sort_keys=True))
            )
        filled = {(f.con_id, f.trade_date) for f in self.stmt.fills}
        for e in self.stmt.eaes:
            if e.key in self.s.known_keys or e.key in seen:
                self.p.counts["skipped"] += 1
                continue
            seen.add(e.key)
            self.p.new_rows.append(
                (e.key, "eae", e.account_id, json.dumps(e.payload, sort_keys=True))
            )
            if e.action in CLOSE_ACTIONS and (e.con_id, e.date) not in filled:
                self.eae_close(e)
        return self.p


def plan_reconcile(
    stmt: ParsedStatement, state: LedgerState, now: str | None = None
) -> ReconcilePlan:
    """Decide every change a statement makes to the given state (pure; mutates `state`)."""
    return _Planner(stmt, state, now or utcnow_iso()).run()


async def _chunked(
    conn: Any, sql: str, values: Sequence[Any], size: int = 500
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    vals = list(values)
    for i in range(0, len(vals), size):
        chunk = vals[i : i + size]
        async with conn.execute(sql.format(qs=",".join("?" for _ in chunk)), chunk) as cur:
            out.extend(dict(r) for r in await cur.fetchall())
    return out


async def load_state(conn: Any, stmt: ParsedStatement) -> LedgerState:
    """Read the keys, executions and trades this statement can touch (inside a transaction)."""
    keys = [f.key for f in stmt.fills] + [e.key for e in stmt.eaes]
    known = {
        r["transaction_id"]
        for r in await _chunked(
            conn, "SELECT transaction_id FROM flex_rows WHERE transaction_id IN ({qs})", keys
        )
    }
    exec_ids = sorted({f.exec_id for f in stmt.fills if f.exec_id})
    execs = [
        ExecutionRow.from_db(r)
        for r in await _chunked(conn, "SELECT * FROM executions WHERE exec_id IN ({qs})", exec_ids)
    ]
    trade_rows: dict[int, dict[str, Any]] = {}
    async with conn.execute("SELECT * FROM trades WHERE status='open'") as cur:
        for r in await cur.fetchall():
            trade_rows[int(r["id"])] = dict(r)
    refs = sorted({f.order_ref for f in stmt.fills if f.order_ref})
    for r in await _chunked(conn, "SELECT * FROM trades WHERE entry_order_ref IN ({qs})", refs):
        trade_rows[int(r["id"])] = r
    oids = sorted({f.order_id for f in stmt.fills if f.order_id is not None})
    for col in ("entry_perm_id", "entry_order_id", "exit_order_id", "stop_order_id"):
        for r in await _chunked(conn, f"SELECT * FROM trades WHERE {col} IN ({{qs}})", oids):
            trade_rows[int(r["id"])] = r
    linked = sorted({e.trade_id for e in execs if e.trade_id is not None} - set(trade_rows))
    for r in await _chunked(conn, "SELECT * FROM trades WHERE id IN ({qs})", linked):
        trade_rows[int(r["id"])] = r
    trades = {tid: TradeRow.from_db(r) for tid, r in trade_rows.items()}
    by_trade: dict[int, list[ExecutionRow]] = {}
    for r in await _chunked(
        conn, "SELECT * FROM executions WHERE trade_id IN ({qs})", sorted(trades)
    ):
        ex = ExecutionRow.from_db(r)
        by_trade.setdefault(ex.trade_id or 0, []).append(ex)
    by_exec = {e.exec_id: e for e in execs if e.exec_id}
    for lst in by_trade.values():
        for i, ex in enumerate(lst):
            if ex.exec_id in by_exec:
                lst[i] = by_exec[ex.exec_id]
    return LedgerState(
        trades=trades,
        execs_by_exec_id=by_exec,
        execs_by_trade=by_trade,
        known_keys=known,
        next_trade_id=await next_id(conn, "trades"),
        next_exec_id=await next_id(conn, "executions"),
    )


async def reconcile_statement(
    store: Store,
    stmt: ParsedStatement,
    *,
    kind: str = "reconcile-eod",
    query_id: str | None = None,
    reference_code: str | None = None,
) -> ReconcileSummary:
    """Book a parsed statement in one transaction and record the import; idempotent."""
    now = utcnow_iso()
    async with store.transaction() as conn:
        state = await load_state(conn, stmt)
        plan = plan_reconcile(stmt, state, now)
        import_id = await insert_row(
            conn,
            "flex_imports",
            {
                "account_id": stmt.account_id,
                "kind": kind,
                "query_id": query_id,
                "reference_code": reference_code,
                "from_date": stmt.from_date.isoformat() if stmt.from_date else None,
                "to_date": stmt.to_date.isoformat() if stmt.to_date else None,
                "fetched_at": now,
                "sha256": stmt.sha256,
                "status": "running",
            },
        )
        await insert_trades(conn, list(plan.new_trades.values()))
        await update_trades(conn, list(plan.changed_trades.values()))
        await insert_executions(conn, plan.new_execs)
        await update_executions(conn, list(plan.changed_execs.values()))
        if plan.new_rows:
            await conn.executemany(
                "INSERT INTO flex_rows(transaction_id, import_id, account_id, kind, payload_json) "
                "VALUES (?,?,?,?,?)",
                [(k, import_id, a, kd, p) for k, kd, a, p in plan.new_rows],
            )
        if stmt.marks:  # marks of a report date are replaced by a later statement's
            await conn.executemany(
                "INSERT OR REPLACE INTO position_marks(account_id, report_date, con_id, symbol, "
                "asset_category, currency, position, mark_price, multiplier, import_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        mk.account_id,
                        mk.report_date.isoformat(),
                        mk.con_id,
                        mk.symbol,
                        mk.asset_category,
                        mk.currency,
                        str(mk.position),
                        str(mk.mark_price),
                        str(mk.multiplier),
                        import_id,
                    )
                    for mk in stmt.marks
                ],
            )
        summary = _summarize(import_id, stmt, plan)
        if stmt.marks:
            summary.counts["position_marks"] = len(stmt.marks)
        await update_row(
            conn,
            "flex_imports",
            import_id,
            {
                "status": summary.status,
                "rows_total": stmt.rows_total,
                "rows_new": summary.rows_new,
                "rows_skipped": summary.rows_skipped,
                "problems_json": to_json(summary.problems) if summary.problems else None,
                "summary_json": to_json(summary.as_dict()),
            },
        )
    return summary


def _summarize(
    import_id: int | None, stmt: ParsedStatement, plan: ReconcilePlan
) -> ReconcileSummary:
    closed_net: dict[str, Decimal] = {}
    for t in [*plan.new_trades.values(), *plan.changed_trades.values()]:
        if t.status == "closed" and t.net_pnl is not None:
            closed_net[t.currency] = closed_net.get(t.currency, ZERO) + t.net_pnl
    commission = sum((e.commission or ZERO for e in plan.new_execs), ZERO)
    problems = [p.as_dict() for p in stmt.problems]
    status = "ok" if not stmt.errors else "partial"
    if not plan.changes and status == "ok":
        status = "unchanged"
    return ReconcileSummary(
        import_id=import_id,
        account_id=stmt.account_id,
        from_date=stmt.from_date.isoformat() if stmt.from_date else None,
        to_date=stmt.to_date.isoformat() if stmt.to_date else None,
        rows_total=stmt.rows_total,
        rows_new=len(plan.new_rows),
        rows_skipped=plan.counts.get("skipped", 0),
        counts=dict(plan.counts),
        problems=problems,
        changes=[c.as_dict() for c in plan.changes[:500]],
        net_pnl_closed={k: format(v, "f") for k, v in sorted(closed_net.items())},
        commission_booked=format(commission, "f"),
        status=status,
    )
