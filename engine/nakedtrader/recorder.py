"""NakedTrader's rows in the trades table (trade_strategy="nakedtrader") and its daily count.

A trade row is written when the bracket is about to be sent (status "pending", no entry
price), so the execution watcher that books fills finds it by `entry_order_ref` and never
books a NakedTrader fill under another strategy. The child order ids (`exit_order_id`,
`stop_order_id`) and `bracket_status` are kept current by `NtRecorder` and the watcher.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from config.nakedtrader import NakedTraderConfig
from engine.domain import OptionRef
from engine.execution.brackets import Bracket
from engine.market.calendar import ET
from engine.store.db import Store
from engine.store.trades import TradeRow, TradesRepo

STRATEGY = "nakedtrader"
ENTRY_PURPOSE = "nt_entry"
#: Intent statuses that did not put an order at IBKR: they do not count towards the daily limit.
NOT_PLACED = ("void", "rejected")
#: Trade statuses of a bracket still alive (entry working or position open).
LIVE_STATUSES = ("pending", "open")


def et_day_bounds(day: dt.date) -> tuple[str, str]:
    """UTC ISO bounds (as stored by IntentRepo) of one New York calendar day."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=ET).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=ET).astimezone(dt.UTC)
    return start.isoformat(timespec="microseconds"), end.isoformat(timespec="microseconds")


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


class NtRecorder:
    """trades rows and counts for one account."""

    def __init__(
        self,
        store: Store,
        account_id: str | None,
        *,
        regime_label: Callable[[], str | None] | None = None,
    ):
        self.store = store
        self.account_id = account_id
        self.trades = TradesRepo(store)
        #: the market regime's label now, stored with each new trade
        self.regime_label = regime_label

    async def entries_on(self, day: dt.date) -> int:
        """Entry orders written on `day` (New York date) that reached or may reach IBKR."""
        lo, hi = et_day_bounds(day)
        row = await self.store.fetchone(
            "SELECT COUNT(*) AS n FROM order_intents WHERE account_id IS ? AND purpose=? "
            "AND created_at >= ? AND created_at < ? AND status NOT IN (?, ?)",
            (self.account_id, ENTRY_PURPOSE, lo, hi, *NOT_PLACED),
        )
        return int(row["n"]) if row else 0

    async def next_key(self, day: dt.date) -> str:
        """'nt-YYYYMMDD-n', n one more than every NakedTrader entry ever written that day."""
        lo, hi = et_day_bounds(day)
        row = await self.store.fetchone(
            "SELECT COUNT(*) AS n FROM order_intents WHERE purpose=? AND created_at >= ? "
            "AND created_at < ?",
            (ENTRY_PURPOSE, lo, hi),
        )
        n = int(row["n"]) if row else 0
        key = f"nt-{day:%Y%m%d}-{n + 1}"
        while await self.store.fetchone(
            "SELECT 1 AS x FROM order_intents WHERE order_ref=?", (f"pd-{key}",)
        ):
            n += 1
            key = f"nt-{day:%Y%m%d}-{n + 1}"
        return key

    async def snapshot_config(self, cfg: NakedTraderConfig, now: dt.datetime) -> int:
        """The config that selected the trade, stored once per distinct content."""
        body = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
        sha = hashlib.sha256(body.encode()).hexdigest()
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO config_snapshots (created_at, kind, sha256, body) "
                "VALUES (?, ?, ?, ?)",
                (_iso(now), STRATEGY, sha, body),
            )
            async with conn.execute(
                "SELECT id FROM config_snapshots WHERE kind=? AND sha256=?", (STRATEGY, sha)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row["id"])

    async def record_entry(
        self,
        option: OptionRef,
        bracket: Bracket,
        now: dt.datetime,
        *,
        config_snapshot_id: int | None,
        notes: str,
    ) -> int:
        """The trade row for a bracket about to be sent (status and bracket 'pending')."""
        tid = await self.trades.open_trade(
            symbol=option.symbol,
            quantity=bracket.entry.quantity,
            entry_price=None,
            entry_time=now,
            trade_strategy=STRATEGY,
            account_id=self.account_id,
            con_id=option.con_id,
            right=option.right,
            strike=Decimal(str(option.strike)),
            expiry=option.expiry,
            multiplier=option.multiplier,
            entry_order_ref=bracket.entry.order_ref,
            config_snapshot_id=config_snapshot_id,
            notes=notes,
            regime=self.regime_label() if self.regime_label is not None else None,
        )
        await self.trades.set_trade_fields(tid, status="pending", bracket_status="pending")
        return tid

    async def record_sent(
        self, trade_id: int, entry_id: int, exit_id: int, stop_id: int | None, perm_id: int = 0
    ) -> None:
        await self.trades.set_trade_fields(trade_id, entry_order_id=entry_id)
        if perm_id:
            await self.trades.set_trade_fields(trade_id, entry_perm_id=perm_id)
        await self.trades.update_bracket_status(
            trade_id, "entry_working", exit_order_id=exit_id, stop_order_id=stop_id
        )

    async def mark(self, trade_id: int, *, status: str, bracket_status: str) -> None:
        await self.trades.set_trade_fields(trade_id, status=status, bracket_status=bracket_status)

    async def live_trades(self) -> list[TradeRow]:
        rows = await self.store.fetchall(
            "SELECT * FROM trades WHERE trade_strategy=? AND account_id IS ? AND status IN (?, ?) "
            "ORDER BY id",
            (STRATEGY, self.account_id, *LIVE_STATUSES),
        )
        return [TradeRow.from_db(r) for r in rows]

    async def trades_for_status(self, day: dt.date) -> list[TradeRow]:
        """Every live NakedTrader trade plus every one entered or closed on `day` (ET)."""
        lo, hi = et_day_bounds(day)
        rows = await self.store.fetchall(
            "SELECT * FROM trades WHERE trade_strategy=? AND account_id IS ? AND (status IN "
            "(?, ?) OR (entry_time >= ? AND entry_time < ?) OR (exit_time >= ? AND exit_time "
            "< ?)) ORDER BY id",
            (STRATEGY, self.account_id, *LIVE_STATUSES, lo, hi, lo, hi),
        )
        return [TradeRow.from_db(r) for r in rows]


def trade_view(t: TradeRow) -> dict[str, Any]:
    """The JSON shape of one NakedTrader trade in NtStatus (docs/nakedtrader.md)."""

    def m(v: Decimal | None) -> str | None:
        return None if v is None else format(v, "f")

    return {
        "id": t.id,
        "symbol": t.symbol,
        "expiry": t.expiry,
        "strike": m(t.strike),
        "right": t.right,
        "quantity": t.quantity,
        "status": t.status,
        "bracket_status": t.bracket_status,
        "entry_time": t.entry_time.isoformat() if t.entry_time else None,
        "entry_price": m(t.entry_price),
        "exit_time": t.exit_time.isoformat() if t.exit_time else None,
        "exit_price": m(t.exit_price),
        "exit_reason": t.exit_reason,
        "commission": m(t.commission),
        "gross_pnl": m(t.gross_pnl),
        "net_pnl": m(t.net_pnl),
        "entry_order_ref": t.entry_order_ref,
        "entry_order_id": t.entry_order_id,
        "exit_order_id": t.exit_order_id,
        "stop_order_id": t.stop_order_id,
        "regime": t.regime,
    }
