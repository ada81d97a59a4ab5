"""The trades repository: trades, executions and orders rows, with exact Decimal money.

Execution, NakedTrader and records all book through this module. A trade is one position's
life: opened (`open_trade`), filled by executions (`add_execution`, idempotent on `exec_id`
and on `flex_transaction_id`), charged commissions (`add_commission`) and closed
(`close_trade`, which computes gross and net P&L). `quantity` is a positive count of
contracts or shares; `side` is 'short' (sold to open, the default) or 'long'. Money is
`Decimal` in and out and TEXT in the database; times are UTC datetimes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiosqlite

from engine.records.pnl import ZERO, PnlSummary, gross_pnl, net_pnl, summarize
from engine.store.db import Store, dec_or_none, insert_row, money, utcnow_iso

SIDES = ("short", "long")


class TradeError(Exception):
    """A trade operation that cannot be done (unknown id, bad side, missing price)."""


def iso(t: dt.datetime | None) -> str | None:
    """A UTC ISO timestamp for the database (naive datetimes are taken as UTC)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat()


def parse_time(s: str | None) -> dt.datetime | None:
    if not s:
        return None
    t = dt.datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass
class TradeRow:
    """One row of `trades`, typed. Mutable so reconciliation can plan changes on copies."""

    id: int
    account_id: str | None
    trade_strategy: str
    symbol: str
    quantity: int
    side: str = "short"
    sec_type: str = "OPT"
    con_id: int | None = None
    right: str | None = None
    strike: Decimal | None = None
    expiry: str | None = None
    multiplier: int = 100
    currency: str = "USD"
    entry_time: dt.datetime | None = None
    entry_price: Decimal | None = None
    exit_time: dt.datetime | None = None
    exit_price: Decimal | None = None
    exit_reason: str | None = None
    commission: Decimal = ZERO
    gross_pnl: Decimal | None = None
    net_pnl: Decimal | None = None
    status: str = "open"
    entry_order_ref: str | None = None
    entry_order_id: int | None = None
    entry_perm_id: int | None = None
    exit_order_id: int | None = None
    stop_order_id: int | None = None
    bracket_status: str | None = None
    config_snapshot_id: int | None = None
    lineup_id: int | None = None
    regime: str | None = None
    estimated: bool = False
    stale: bool = False
    related_trade_id: int | None = None
    basis_adjustment: Decimal | None = None
    notes: str | None = None
    created_at: str = ""
    updated_at: str = ""

    @property
    def basis_per_share(self) -> Decimal | None:
        """Cost basis per unit after a put-premium adjustment (entry price + adjustment)."""
        if self.entry_price is None:
            return None
        return self.entry_price + (self.basis_adjustment or ZERO)

    def recompute_pnl(self) -> None:
        """Set gross/net P&L from prices and commission (None while open or unpriced)."""
        if self.status != "closed" or self.entry_price is None or self.exit_price is None:
            self.gross_pnl = None
            self.net_pnl = None
            return
        g = gross_pnl(self.side, self.entry_price, self.exit_price, self.multiplier, self.quantity)
        self.gross_pnl = g
        self.net_pnl = net_pnl(g, self.commission)

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> TradeRow:
        return cls(
            id=int(row["id"]),
            account_id=row["account_id"],
            trade_strategy=row["trade_strategy"],
            symbol=row["symbol"],
            quantity=int(row["quantity"]),
            side=row.get("side") or "short",
            sec_type=row["sec_type"],
            con_id=row["con_id"],
            right=row["right"],
            strike=dec_or_none(row["strike"]),
            expiry=row["expiry"],
            multiplier=int(row["multiplier"]),
            currency=row.get("currency") or "USD",
            entry_time=parse_time(row["entry_time"]),
            entry_price=dec_or_none(row["entry_price"]),
            exit_time=parse_time(row["exit_time"]),
            exit_price=dec_or_none(row["exit_price"]),
            exit_reason=row["exit_reason"],
            commission=Decimal(row["commission"] or "0"),
            gross_pnl=dec_or_none(row["gross_pnl"]),
            net_pnl=dec_or_none(row["net_pnl"]),
            status=row["status"],
            entry_order_ref=row["entry_order_ref"],
            entry_order_id=row["entry_order_id"],
            entry_perm_id=row["entry_perm_id"],
            exit_order_id=row["exit_order_id"],
            stop_order_id=row["stop_order_id"],
            bracket_status=row["bracket_status"],
            config_snapshot_id=row["config_snapshot_id"],
            lineup_id=row["lineup_id"],
            regime=row["regime"],
            estimated=bool(row["estimated"]),
            stale=bool(row["stale"]),
            related_trade_id=row["related_trade_id"],
            basis_adjustment=dec_or_none(row["basis_adjustment"]),
            notes=row["notes"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_db(self) -> dict[str, Any]:
        """Column values (money as exact TEXT, times as UTC ISO)."""
        d = {name: getattr(self, name) for name in TRADE_COLUMNS}
        for k in ("entry_time", "exit_time"):
            d[k] = iso(d[k])
        for k in ("strike", "entry_price", "exit_price", "commission", "gross_pnl", "net_pnl"):
            d[k] = money(d[k])
        d["basis_adjustment"] = money(d["basis_adjustment"])
        d["estimated"] = int(self.estimated)
        d["stale"] = int(self.stale)
        return d

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (Decimal as strings) including the derived basis per share."""
        d = self.to_db()
        basis = self.basis_per_share
        d["basis_per_share"] = money(basis)
        d["estimated"] = self.estimated
        d["stale"] = self.stale
        return d


TRADE_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TradeRow))


@dataclass
class ExecutionRow:
    """One row of `executions` (a fill), typed."""

    id: int
    quantity: Decimal
    price: Decimal
    time: dt.datetime
    side: str | None = None
    account_id: str | None = None
    exec_id: str | None = None
    flex_transaction_id: str | None = None
    perm_id: int | None = None
    order_id: int | None = None
    order_ref: str | None = None
    con_id: int | None = None
    symbol: str | None = None
    sec_type: str | None = None
    right: str | None = None
    strike: Decimal | None = None
    expiry: str | None = None
    commission: Decimal | None = None
    commission_currency: str | None = None
    realized_pnl: Decimal | None = None
    source: str = "api"
    trade_id: int | None = None

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> ExecutionRow:
        return cls(
            id=int(row["id"]),
            quantity=Decimal(row["quantity"]),
            price=Decimal(row["price"]),
            time=parse_time(row["time"]) or dt.datetime.now(dt.UTC),
            side=row["side"],
            account_id=row["account_id"],
            exec_id=row["exec_id"],
            flex_transaction_id=row["flex_transaction_id"],
            perm_id=row["perm_id"],
            order_id=row["order_id"],
            order_ref=row["order_ref"],
            con_id=row["con_id"],
            symbol=row["symbol"],
            sec_type=row["sec_type"],
            right=row["right"],
            strike=dec_or_none(row["strike"]),
            expiry=row["expiry"],
            commission=dec_or_none(row["commission"]),
            commission_currency=row["commission_currency"],
            realized_pnl=dec_or_none(row["realized_pnl"]),
            source=row["source"],
            trade_id=row["trade_id"],
        )

    def to_db(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in EXECUTION_COLUMNS}
        d["time"] = iso(self.time)
        for k in ("quantity", "price", "strike", "commission", "realized_pnl"):
            d[k] = money(d[k])
        return d


EXECUTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ExecutionRow))


@dataclass(frozen=True)
class AddedExecution:
    """What `add_execution` did: the row id, and whether it was new."""

    id: int
    created: bool
    trade_id: int | None


# --- bulk helpers (used inside an open transaction by reconciliation) -----------------------


async def _insert_rows(
    conn: aiosqlite.Connection, table: str, cols: Sequence[str], rows: Sequence[Any]
) -> None:
    """INSERT rows (each with `to_db()`) into `table`, their ids already assigned."""
    if not rows:
        return
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    dbs = [r.to_db() for r in rows]
    await conn.executemany(sql, [[d[c] for c in cols] for d in dbs])


async def _update_rows(
    conn: aiosqlite.Connection, table: str, cols: Sequence[str], rows: Sequence[Any]
) -> None:
    """UPDATE `cols` of rows (each with `to_db()`) in `table` by id."""
    if not rows:
        return
    sql = f"UPDATE {table} SET {', '.join(c + '=?' for c in cols)} WHERE id=?"
    dbs = [r.to_db() for r in rows]
    await conn.executemany(sql, [[*(d[c] for c in cols), d["id"]] for d in dbs])


async def insert_trades(conn: aiosqlite.Connection, rows: Sequence[TradeRow]) -> None:
    """INSERT trades with their ids already assigned (one executemany)."""
    await _insert_rows(conn, "trades", TRADE_COLUMNS, rows)


async def update_trades(conn: aiosqlite.Connection, rows: Sequence[TradeRow]) -> None:
    """UPDATE every column of the given trades by id (one executemany)."""
    cols = [c for c in TRADE_COLUMNS if c not in ("id", "created_at")]
    await _update_rows(conn, "trades", cols, rows)


async def insert_executions(conn: aiosqlite.Connection, rows: Sequence[ExecutionRow]) -> None:
    await _insert_rows(conn, "executions", EXECUTION_COLUMNS, rows)


async def update_executions(conn: aiosqlite.Connection, rows: Sequence[ExecutionRow]) -> None:
    await _update_rows(conn, "executions", [c for c in EXECUTION_COLUMNS if c != "id"], rows)


async def next_id(conn: aiosqlite.Connection, table: str) -> int:
    """The next free integer id of `table` (call inside the writing transaction)."""
    async with conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 1


def _in_clause(values: Sequence[Any]) -> str:
    return ",".join("?" for _ in values)


class TradesRepo:
    """Async repository over one `Store`.

    Every write is one transaction of its own, unless the caller passes `conn=` (an open
    `store.transaction()` connection): then it joins the caller's transaction, so a decision
    and its booking commit together (`Store.transaction` is not re-entrant).
    """

    def __init__(self, store: Store):
        self.store = store

    @asynccontextmanager
    async def _tx(self, conn: aiosqlite.Connection | None) -> AsyncIterator[aiosqlite.Connection]:
        if conn is not None:
            yield conn
            return
        async with self.store.transaction() as c:
            yield c

    # --- trades --------------------------------------------------------------------------

    async def open_trade(
        self,
        *,
        symbol: str,
        quantity: int,
        entry_price: Decimal | None,
        entry_time: dt.datetime | None = None,
        trade_strategy: str = "putdesk",
        account_id: str | None = None,
        side: str = "short",
        sec_type: str = "OPT",
        con_id: int | None = None,
        right: str | None = "P",
        strike: Decimal | None = None,
        expiry: str | None = None,
        multiplier: int = 100,
        currency: str = "USD",
        commission: Decimal = ZERO,
        entry_order_ref: str | None = None,
        entry_order_id: int | None = None,
        entry_perm_id: int | None = None,
        config_snapshot_id: int | None = None,
        lineup_id: int | None = None,
        regime: str | None = None,
        estimated: bool = False,
        related_trade_id: int | None = None,
        basis_adjustment: Decimal | None = None,
        notes: str | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> int:
        """Insert an open trade; returns its id. `entry_time` defaults to now (UTC)."""
        if side not in SIDES:
            raise TradeError(f"side must be 'short' or 'long', not {side!r}")
        if quantity <= 0:
            raise TradeError(f"quantity must be positive, not {quantity}")
        now = utcnow_iso()
        row = TradeRow(
            id=0,
            account_id=account_id,
            trade_strategy=trade_strategy,
            symbol=symbol,
            quantity=int(quantity),
            side=side,
            sec_type=sec_type,
            con_id=con_id,
            right=right,
            strike=strike,
            expiry=expiry,
            multiplier=int(multiplier),
            currency=currency,
            entry_time=entry_time or dt.datetime.now(dt.UTC),
            entry_price=entry_price,
            commission=commission,
            entry_order_ref=entry_order_ref,
            entry_order_id=entry_order_id,
            entry_perm_id=entry_perm_id,
            config_snapshot_id=config_snapshot_id,
            lineup_id=lineup_id,
            regime=regime,
            estimated=estimated,
            related_trade_id=related_trade_id,
            basis_adjustment=basis_adjustment,
            notes=notes,
            created_at=now,
            updated_at=now,
        )
        values = row.to_db()
        del values["id"]
        async with self._tx(conn) as conn:
            return await insert_row(conn, "trades", values)

    async def get_trade(self, trade_id: int) -> TradeRow | None:
        row = await self.store.fetchone("SELECT * FROM trades WHERE id=?", (trade_id,))
        return None if row is None else TradeRow.from_db(row)

    async def _require(self, conn: aiosqlite.Connection, trade_id: int) -> TradeRow:
        async with conn.execute("SELECT * FROM trades WHERE id=?", (trade_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise TradeError(f"no trade with id {trade_id}")
        return TradeRow.from_db(dict(row))

    async def close_trade(
        self,
        trade_id: int,
        exit_price: Decimal,
        exit_time: dt.datetime | None,
        exit_reason: str,
        commission: Decimal = ZERO,
        *,
        exit_order_id: int | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> TradeRow:
        """Close a trade, computing gross and net P&L exactly.

        `commission` is the closing fills' commission (positive = cost); it is added to what
        the trade already carries. Closing an already closed trade changes nothing and
        returns it as stored (reconcile-eod corrects prices from Flex).
        """
        if isinstance(exit_price, float):
            raise TradeError("exit_price must be Decimal, not float")
        async with self._tx(conn) as conn:
            t = await self._require(conn, trade_id)
            if t.status == "closed":
                return t
            t.exit_price = Decimal(exit_price)
            t.exit_time = exit_time or dt.datetime.now(dt.UTC)
            t.exit_reason = exit_reason
            t.commission = t.commission + Decimal(commission)
            t.status = "closed"
            if exit_order_id is not None:
                t.exit_order_id = exit_order_id
            t.recompute_pnl()
            t.updated_at = utcnow_iso()
            await update_trades(conn, [t])
            return t

    async def add_commission(
        self,
        trade_id: int,
        amount: Decimal,
        *,
        exec_id: str | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> TradeRow:
        """Book a commission (positive = cost) on a trade and refresh its net P&L.

        With `exec_id` the amount is that execution's commission report: it is stored on the
        execution and only the difference to what was booked for it before is added, so a
        repeated report changes nothing.
        """
        async with self._tx(conn) as conn:
            t = await self._require(conn, trade_id)
            delta = Decimal(amount)
            if exec_id is not None:
                async with conn.execute(
                    "SELECT id, commission FROM executions WHERE exec_id=?", (exec_id,)
                ) as cur:
                    ex = await cur.fetchone()
                if ex is None:
                    raise TradeError(f"no execution with exec_id {exec_id!r}")
                before = dec_or_none(ex["commission"]) or ZERO
                delta = Decimal(amount) - before
                await conn.execute(
                    "UPDATE executions SET commission=?, trade_id=COALESCE(trade_id, ?) WHERE id=?",
                    (money(amount), trade_id, ex["id"]),
                )
            if delta:
                t.commission = t.commission + delta
                t.recompute_pnl()
                t.updated_at = utcnow_iso()
                await update_trades(conn, [t])
            return t

    async def update_bracket_status(
        self,
        trade_id: int,
        bracket_status: str,
        *,
        exit_order_id: int | None = None,
        stop_order_id: int | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> None:
        """Record the bracket's state (and its child order ids when given)."""
        sets = ["bracket_status=?", "updated_at=?"]
        params: list[Any] = [bracket_status, utcnow_iso()]
        if exit_order_id is not None:
            sets.append("exit_order_id=?")
            params.append(exit_order_id)
        if stop_order_id is not None:
            sets.append("stop_order_id=?")
            params.append(stop_order_id)
        async with self._tx(conn) as conn:
            cur = await conn.execute(
                f"UPDATE trades SET {', '.join(sets)} WHERE id=?", [*params, trade_id]
            )
            if cur.rowcount == 0:
                raise TradeError(f"no trade with id {trade_id}")

    async def set_trade_fields(
        self, trade_id: int, *, conn: aiosqlite.Connection | None = None, **fields: Any
    ) -> None:
        """Update named trade columns (e.g. regime, stale, notes); Decimals stored exactly."""
        bad = [k for k in fields if k not in TRADE_COLUMNS or k in ("id", "created_at")]
        if bad:
            raise TradeError(f"not trade columns: {', '.join(bad)}")
        values = {k: money(v) if isinstance(v, Decimal) else v for k, v in fields.items()}
        for k in ("entry_time", "exit_time"):
            v = values.get(k)
            if isinstance(v, dt.datetime):
                values[k] = iso(v)
        values["updated_at"] = utcnow_iso()
        async with self._tx(conn) as conn:
            await conn.execute(
                f"UPDATE trades SET {', '.join(k + '=?' for k in values)} WHERE id=?",
                [*values.values(), trade_id],
            )

    async def _one(self, where: str, params: Sequence[Any]) -> TradeRow | None:
        row = await self.store.fetchone(
            f"SELECT * FROM trades WHERE {where} "
            "ORDER BY (status='open') DESC, entry_time DESC, id DESC LIMIT 1",
            params,
        )
        return None if row is None else TradeRow.from_db(row)

    async def find_trade_by_order_ref(self, order_ref: str) -> TradeRow | None:
        """The trade whose entry order carried this orderRef (open trades first)."""
        return await self._one("entry_order_ref=?", (order_ref,))

    async def find_trade_by_order_id(self, order_id: int) -> TradeRow | None:
        """The trade whose entry, take-profit or stop order has this API order id."""
        return await self._one(
            "entry_order_id=? OR exit_order_id=? OR stop_order_id=?",
            (order_id, order_id, order_id),
        )

    async def find_trade_by_perm_id(self, perm_id: int) -> TradeRow | None:
        """The trade whose entry order has this permId, or that owns an execution with it."""
        t = await self._one("entry_perm_id=?", (perm_id,))
        if t is not None:
            return t
        return await self._one(
            "id IN (SELECT trade_id FROM executions WHERE perm_id=? AND trade_id IS NOT NULL)",
            (perm_id,),
        )

    async def find_trade_by_con_id(
        self, con_id: int, *, status: str | None = "open", account_id: str | None = None
    ) -> TradeRow | None:
        """The most recent trade in this contract (open ones only by default)."""
        where = "con_id=?"
        params: list[Any] = [con_id]
        if status is not None:
            where += " AND status=?"
            params.append(status)
        if account_id is not None:
            where += " AND account_id=?"
            params.append(account_id)
        return await self._one(where, params)

    async def open_trades(
        self, strategy: str | None = None, *, account_id: str | None = None
    ) -> list[TradeRow]:
        """Open trades, oldest first, optionally of one strategy / account."""
        where: list[str] = ["status='open'"]
        params: list[Any] = []
        if strategy is not None:
            where.append("trade_strategy=?")
            params.append(strategy)
        if account_id is not None:
            where.append("account_id=?")
            params.append(account_id)
        rows = await self.store.fetchall(
            f"SELECT * FROM trades WHERE {' AND '.join(where)} ORDER BY entry_time, id", params
        )
        return [TradeRow.from_db(r) for r in rows]

    async def trades_since(
        self,
        since: dt.date | None = None,
        *,
        strategy: str | None = None,
        account_id: str | None = None,
        status: str | None = None,
    ) -> list[TradeRow]:
        """Trades opened or closed on/after `since` (UTC date; None = all), oldest first."""
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if since is not None:
            start = dt.datetime.combine(since, dt.time(0), tzinfo=dt.UTC).isoformat()
            where.append("(entry_time >= ? OR exit_time >= ? OR entry_time IS NULL)")
            params += [start, start]
        if strategy is not None:
            where.append("trade_strategy=?")
            params.append(strategy)
        if account_id is not None:
            where.append("account_id=?")
            params.append(account_id)
        if status is not None:
            where.append("status=?")
            params.append(status)
        rows = await self.store.fetchall(
            f"SELECT * FROM trades WHERE {' AND '.join(where)} "
            "ORDER BY COALESCE(entry_time, exit_time), id",
            params,
        )
        return [TradeRow.from_db(r) for r in rows]

    async def pnl_summary(
        self,
        since: dt.date | None = None,
        *,
        strategy: str | None = None,
        account_id: str | None = None,
    ) -> list[PnlSummary]:
        """Net P&L after fees per (strategy, currency) over closed trades since a date."""
        rows = await self.trades_since(
            since, strategy=strategy, account_id=account_id, status="closed"
        )
        if since is not None:
            start = dt.datetime.combine(since, dt.time(0), tzinfo=dt.UTC)
            rows = [r for r in rows if r.exit_time is None or r.exit_time >= start]
        return summarize(rows)

    # --- executions ----------------------------------------------------------------------

    async def add_execution(
        self,
        *,
        quantity: Decimal | int,
        price: Decimal,
        time: dt.datetime,
        side: str,
        exec_id: str | None = None,
        flex_transaction_id: str | None = None,
        account_id: str | None = None,
        perm_id: int | None = None,
        order_id: int | None = None,
        order_ref: str | None = None,
        con_id: int | None = None,
        symbol: str | None = None,
        sec_type: str | None = None,
        right: str | None = None,
        strike: Decimal | None = None,
        expiry: str | None = None,
        commission: Decimal | None = None,
        commission_currency: str | None = None,
        realized_pnl: Decimal | None = None,
        source: str = "api",
        trade_id: int | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> AddedExecution:
        """Record a fill once. `side` is 'BOT'/'SLD' (TWS) or 'BUY'/'SELL'; quantity > 0.

        Idempotent: an execution already stored under the same `exec_id` or
        `flex_transaction_id` is not duplicated; its missing trade link, commission or Flex
        id are filled in and its id is returned with `created=False`.
        """
        if exec_id is None and flex_transaction_id is None:
            raise TradeError("an execution needs an exec_id or a flex_transaction_id")
        if isinstance(price, float):
            raise TradeError("price must be Decimal, not float")
        async with self._tx(conn) as conn:
            async with conn.execute(
                "SELECT * FROM executions WHERE exec_id=? OR flex_transaction_id=? LIMIT 1",
                (exec_id, flex_transaction_id),
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                ex = ExecutionRow.from_db(dict(found))
                changed = False
                if ex.trade_id is None and trade_id is not None:
                    ex.trade_id, changed = trade_id, True
                if ex.commission is None and commission is not None:
                    ex.commission, changed = Decimal(commission), True
                if ex.flex_transaction_id is None and flex_transaction_id is not None:
                    ex.flex_transaction_id, changed = flex_transaction_id, True
                if ex.exec_id is None and exec_id is not None:
                    ex.exec_id, changed = exec_id, True
                if changed:
                    await update_executions(conn, [ex])
                return AddedExecution(id=ex.id, created=False, trade_id=ex.trade_id)
            row = ExecutionRow(
                id=0,
                quantity=Decimal(quantity),
                price=Decimal(price),
                time=time,
                side=side,
                account_id=account_id,
                exec_id=exec_id,
                flex_transaction_id=flex_transaction_id,
                perm_id=perm_id,
                order_id=order_id,
                order_ref=order_ref,
                con_id=con_id,
                symbol=symbol,
                sec_type=sec_type,
                right=right,
                strike=strike,
                expiry=expiry,
                commission=commission,
                commission_currency=commission_currency,
                realized_pnl=realized_pnl,
                source=source,
                trade_id=trade_id,
            )
            values = row.to_db()
            del values["id"]
            new_id = await insert_row(conn, "executions", values)
            return AddedExecution(id=new_id, created=True, trade_id=trade_id)

    async def executions_for_trade(self, trade_id: int) -> list[ExecutionRow]:
        rows = await self.store.fetchall(
            "SELECT * FROM executions WHERE trade_id=? ORDER BY time, id", (trade_id,)
        )
        return [ExecutionRow.from_db(r) for r in rows]

    async def find_execution(self, exec_id: str) -> ExecutionRow | None:
        row = await self.store.fetchone("SELECT * FROM executions WHERE exec_id=?", (exec_id,))
        return None if row is None else ExecutionRow.from_db(row)

    # --- orders --------------------------------------------------------------------------

    async def upsert_order(
        self,
        *,
        order_id: int | None,
        perm_id: int | None = None,
        order_ref: str | None = None,
        account_id: str | None = None,
        intent_id: int | None = None,
        client_id: int | None = None,
        parent_id: int | None = None,
        symbol: str | None = None,
        con_id: int | None = None,
        action: str | None = None,
        quantity: int | None = None,
        order_type: str | None = None,
        limit_price: Decimal | None = None,
        aux_price: Decimal | None = None,
        tif: str | None = None,
        status: str | None = None,
        filled: int | None = None,
        remaining: int | None = None,
        avg_fill_price: Decimal | None = None,
        why_held: str | None = None,
        conn: aiosqlite.Connection | None = None,
    ) -> int:
        """Insert or update an `orders` row found by permId, else by (client_id, order_id).

        Only the fields given (not None) are written on update. Returns the row id.
        """
        given: dict[str, Any] = {
            k: v
            for k, v in {
                "order_id": order_id,
                "perm_id": perm_id,
                "order_ref": order_ref,
                "account_id": account_id,
                "intent_id": intent_id,
                "client_id": client_id,
                "parent_id": parent_id,
                "symbol": symbol,
                "con_id": con_id,
                "action": action,
                "quantity": quantity,
                "order_type": order_type,
                "limit_price": limit_price,
                "aux_price": aux_price,
                "tif": tif,
                "status": status,
                "filled": filled,
                "remaining": remaining,
                "avg_fill_price": avg_fill_price,
                "why_held": why_held,
            }.items()
            if v is not None
        }
        now = utcnow_iso()
        async with self._tx(conn) as conn:
            found = None
            if perm_id:
                async with conn.execute("SELECT id FROM orders WHERE perm_id=?", (perm_id,)) as c:
                    found = await c.fetchone()
            if found is None and order_id is not None:
                async with conn.execute(
                    "SELECT id FROM orders WHERE order_id=? AND client_id IS ? "
                    "ORDER BY id DESC LIMIT 1",
                    (order_id, client_id),
                ) as c:
                    found = await c.fetchone()
            if found is None:
                return await insert_row(
                    conn, "orders", {**given, "created_at": now, "updated_at": now}
                )
            values = {k: money(v) if isinstance(v, Decimal) else v for k, v in given.items()}
            values["updated_at"] = now
            await conn.execute(
                f"UPDATE orders SET {', '.join(k + '=?' for k in values)} WHERE id=?",
                [*values.values(), found["id"]],
            )
            return int(found["id"])

    async def orders_for_ref(self, order_ref: str) -> list[dict[str, Any]]:
        return await self.store.fetchall(
            "SELECT * FROM orders WHERE order_ref=? ORDER BY id", (order_ref,)
        )


def trades_by_id(rows: Iterable[TradeRow]) -> dict[int, TradeRow]:
    return {r.id: r for r in rows}
