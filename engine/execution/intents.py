"""Order intents: one `order_intents` row written (and committed) BEFORE each order is sent.

Statuses: pending (written, not known to have reached IBKR), sent (place returned), working,
filled, cancelled, rejected, inactive, void (recovery proved it never reached IBKR), missing
(recorded as sent but IBKR does not know it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain import OptionRef, Reason
from engine.execution.brackets import OrderLeg
from engine.store.db import Store, dec_or_none, insert_row, to_json

OPEN_STATUSES = ("pending", "sent", "working")
FINAL_STATUSES = ("filled", "cancelled", "rejected", "inactive", "void", "missing")


@dataclass(frozen=True)
class Intent:
    id: int
    order_ref: str
    lineup_id: int | None
    purpose: str
    symbol: str
    con_id: int | None
    action: str
    quantity: int
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    parent_ref: str | None
    status: str
    reason_code: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Intent:
        return cls(
            id=int(r["id"]),
            order_ref=str(r["order_ref"]),
            lineup_id=r["lineup_id"],
            purpose=str(r["purpose"]),
            symbol=str(r["symbol"]),
            con_id=r["con_id"],
            action=str(r["action"]),
            quantity=int(r["quantity"]),
            order_type=str(r["order_type"]),
            limit_price=dec_or_none(r["limit_price"]),
            aux_price=dec_or_none(r["aux_price"]),
            tif=str(r["tif"]),
            parent_ref=r["parent_ref"],
            status=str(r["status"]),
            reason_code=r["reason_code"],
        )


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="microseconds")


class IntentRepo:
    """order_intents for one account."""

    def __init__(self, store: Store, account_id: str):
        self.store = store
        self.account_id = account_id

    async def write_legs(
        self,
        legs: list[OrderLeg],
        option: OptionRef,
        *,
        lineup_id: int | None,
        now: dt.datetime,
        purpose_prefix: str = "",
        payload: dict[str, Any] | None = None,
    ) -> list[int]:
        """All legs of one placement in one transaction (all or nothing)."""
        ids = []
        async with self.store.transaction() as conn:
            for leg in legs:
                ids.append(
                    await insert_row(
                        conn,
                        "order_intents",
                        {
                            "account_id": self.account_id,
                            "order_ref": leg.order_ref,
                            "lineup_id": lineup_id,
                            "purpose": purpose_prefix + leg.leg,
                            "symbol": option.symbol,
                            "con_id": option.con_id,
                            "sec_type": "OPT",
                            "expiry": option.expiry,
                            "strike": format(Decimal(str(option.strike)), "f"),
                            "right": option.right,
                            "action": leg.action,
                            "quantity": leg.quantity,
                            "order_type": leg.order_type,
                            "limit_price": leg.limit_price,
                            "aux_price": leg.aux_price,
                            "tif": leg.tif,
                            "parent_ref": leg.parent_ref,
                            "status": "pending",
                            "created_at": _iso(now),
                            "updated_at": _iso(now),
                            "payload_json": to_json(payload or {}),
                        },
                    )
                )
        return ids

    async def set_status(
        self, refs: list[str], status: str, now: dt.datetime, reason: Reason | None = None
    ) -> None:
        async with self.store.transaction() as conn:
            for ref in refs:
                if reason is None:
                    await conn.execute(
                        "UPDATE order_intents SET status=?, updated_at=? WHERE order_ref=?",
                        (status, _iso(now), ref),
                    )
                else:
                    await conn.execute(
                        "UPDATE order_intents SET status=?, updated_at=?, reason_code=?, "
                        "reason_text=? WHERE order_ref=?",
                        (status, _iso(now), reason.code, reason.text, ref),
                    )

    async def note_cancel(self, refs: list[str], reason: Reason, now: dt.datetime) -> None:
        """Why putdesk is asking IBKR to cancel these orders; the watcher gives the cancel,
        once IBKR confirms it, this reason (the status stays IBKR's to report)."""
        async with self.store.transaction() as conn:
            for ref in refs:
                await conn.execute(
                    "UPDATE order_intents SET cancel_code=?, cancel_text=?, updated_at=? "
                    "WHERE order_ref=?",
                    (reason.code, reason.text, _iso(now), ref),
                )

    async def get(self, ref: str) -> Intent | None:
        row = await self.store.fetchone("SELECT * FROM order_intents WHERE order_ref=?", (ref,))
        return Intent.from_row(row) if row else None

    async def all(self) -> list[Intent]:
        rows = await self.store.fetchall(
            "SELECT * FROM order_intents WHERE account_id IS ? ORDER BY id", (self.account_id,)
        )
        return [Intent.from_row(r) for r in rows]

    async def open(self) -> list[Intent]:
        rows = await self.store.fetchall(
            "SELECT * FROM order_intents WHERE account_id IS ? AND status IN (?,?,?) ORDER BY id",
            (self.account_id, *OPEN_STATUSES),
        )
        return [Intent.from_row(r) for r in rows]

    async def for_lineup(self, lineup_id: int) -> list[Intent]:
        rows = await self.store.fetchall(
            "SELECT * FROM order_intents WHERE lineup_id=? ORDER BY id", (lineup_id,)
        )
        return [Intent.from_row(r) for r in rows]

    async def protect_key(self, lineup_id: int) -> str:
        """'L<lineup>-<n>p<m>': the key of a standalone exit pair; m counts this entry's earlier
        exit pairs, so a second protection (after another kill) never repeats a ref."""
        row = await self.store.fetchone(
            "SELECT COUNT(*) AS n FROM order_intents WHERE lineup_id=? AND "
            "purpose='protect_take_profit'",
            (lineup_id,),
        )
        m = int(row["n"]) if row else 0
        return f"{await self.next_key(lineup_id)}p{m + 1}"

    async def next_key(self, lineup_id: int) -> str:
        """'L<lineup>-<n>': n counts this entry's earlier entry orders, so refs never repeat."""
        row = await self.store.fetchone(
            "SELECT COUNT(*) AS n FROM order_intents WHERE lineup_id=? AND purpose LIKE '%entry'",
            (lineup_id,),
        )
        n = int(row["n"]) if row else 0
        return f"L{lineup_id}-{n + 1}"
