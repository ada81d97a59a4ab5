"""Tonight's Lineup rows: staged trades with their selection data and config snapshot.

Status: 'staged' -> 'approved' (ready for execution) or 'removed'. Execution moves approved
rows on ('sent', 'filled', 'cancelled'). `stale` is set for entries selected under the
closed-market override and is never cleared; execution refuses them on live accounts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import aiosqlite

from engine.store.db import Store, insert_row, update_row, utcnow_iso

ACTIVE_STATUSES = ("staged", "approved")
#: States of an entry that execution has taken up (its orders may be working at IBKR).
IN_EXECUTION_STATUSES = ("stage2_ok", "submitted", "repricing", "repriced")


async def sold_contracts(conn: aiosqlite.Connection, lineup_id: int) -> int:
    """Contracts of a lineup entry sold so far: the SLD executions of its orders
    (`pd-L<id>-...`, every tier and replacement)."""
    async with conn.execute(
        "SELECT COALESCE(SUM(CAST(quantity AS INTEGER)), 0) FROM executions "
        "WHERE side='SLD' AND order_ref LIKE ?",
        (f"pd-L{lineup_id}-%",),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


class LineupRepo:
    def __init__(self, store: Store, now: Callable[[], dt.datetime] | None = None):
        self._clock_now = now
        self.store = store

    def _stamp(self) -> str:
        """Now in UTC from the engine clock (virtual time in simulations), else the wall."""
        if self._clock_now is None:
            return utcnow_iso()
        return self._clock_now().astimezone(dt.UTC).isoformat(timespec="microseconds")

    async def add(self, values: dict[str, Any]) -> int:
        return (await self.add_many([values]))[0]

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert entries in one transaction; `selection` (a dict) goes to selection_json."""
        now = self._stamp()
        ids = []
        async with self.store.transaction() as conn:
            for values in rows:
                row = dict(values)
                sel = row.pop("selection", None)
                if sel is not None:
                    row["selection_json"] = json.dumps(sel, sort_keys=True, default=str)
                row.setdefault("status", "staged")
                row.setdefault("created_at", now)
                row.setdefault("updated_at", now)
                if isinstance(row.get("stale"), bool):
                    row["stale"] = int(row["stale"])
                ids.append(await insert_row(conn, "lineup", row))
        return ids

    async def active(self, account_id: str | None) -> list[dict[str, Any]]:
        """Staged and approved entries of the account (all accounts when None)."""
        marks = ",".join("?" for _ in ACTIVE_STATUSES)
        if account_id is None:
            rows = await self.store.fetchall(
                f"SELECT * FROM lineup WHERE status IN ({marks}) ORDER BY id", ACTIVE_STATUSES
            )
        else:
            rows = await self.store.fetchall(
                f"SELECT * FROM lineup WHERE status IN ({marks}) AND account_id IS ? ORDER BY id",
                (*ACTIVE_STATUSES, account_id),
            )
        return [_decode(r) for r in rows]

    async def in_execution(self, account_id: str | None) -> list[dict[str, Any]]:
        """Entries execution has taken up, each with `sold`: contracts of it filled so far
        (from the executions of its orders, `pd-L<id>-...`)."""
        marks = ",".join("?" for _ in IN_EXECUTION_STATUSES)
        rows = await self.store.fetchall(
            f"SELECT * FROM lineup WHERE status IN ({marks}) AND account_id IS ? ORDER BY id",
            (*IN_EXECUTION_STATUSES, account_id),
        )
        out = []
        for r in rows:
            row = _decode(r)
            row["sold"] = await sold_contracts(self.store.conn, int(row["id"]))
            out.append(row)
        return out

    async def done_since(self, account_id: str | None, since: dt.datetime) -> list[dict[str, Any]]:
        """Entries that left staged/approved (sent, filled, cancelled with its reason, ...) and
        changed at or after `since`; entries the user removed are left out."""
        marks = ",".join("?" for _ in ACTIVE_STATUSES)
        rows = await self.store.fetchall(
            f"SELECT * FROM lineup WHERE status NOT IN ({marks}) AND status != 'removed' "
            "AND account_id IS ? AND updated_at >= ? ORDER BY id",
            (
                *ACTIVE_STATUSES,
                account_id,
                since.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            ),
        )
        return [_decode(r) for r in rows]

    async def get(self, lineup_id: int) -> dict[str, Any] | None:
        row = await self.store.fetchone("SELECT * FROM lineup WHERE id=?", (lineup_id,))
        return None if row is None else _decode(row)

    async def set_status(
        self, ids: Sequence[int], status: str, *, only_from: Sequence[str] = ACTIVE_STATUSES
    ) -> list[int]:
        """Move entries currently in `only_from` to `status`; returns the ids changed."""
        now = self._stamp()
        changed = []
        async with self.store.transaction() as conn:
            for i in ids:
                async with conn.execute("SELECT status FROM lineup WHERE id=?", (i,)) as cur:
                    row = await cur.fetchone()
                if row is None or row[0] not in only_from:
                    continue
                values: dict[str, Any] = {"status": status, "updated_at": now}
                if status == "approved":
                    values["approved_at"] = now
                await update_row(conn, "lineup", i, values)
                changed.append(i)
        return changed

    async def set_quantity(self, lineup_id: int, quantity: int) -> None:
        async with self.store.transaction() as conn:
            await update_row(
                conn, "lineup", lineup_id, {"quantity": quantity, "updated_at": self._stamp()}
            )

    async def clear(self, account_id: str | None) -> list[int]:
        ids = [int(r["id"]) for r in await self.active(account_id)]
        return await self.set_status(ids, "removed")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("selection_json"):
        row["selection"] = json.loads(row.pop("selection_json"))
    row["stale"] = bool(row.get("stale"))
    return row


def margin_of(row: dict[str, Any]) -> Decimal:
    return Decimal(str(row.get("margin_per_contract") or "0")) * int(row["quantity"])
