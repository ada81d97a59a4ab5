"""Small store helpers shared by the execution modules: events (table + bus) and lineup reasons.

An event is written in the caller's transaction when one is open, so a decision and its record
commit together; the bus hears about it after the commit.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from engine.api.models import Event, EventKind
from engine.domain import Reason
from engine.store.db import Store, insert_row, to_json

Publish = Callable[[Event], Awaitable[None] | None]


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


class Recorder:
    """Writes events and lineup decisions; forwards events to the bus (if any)."""

    def __init__(
        self,
        store: Store,
        account_id: str,
        publish: Publish | None = None,
        *,
        store_events: bool = True,
    ):
        """`store_events=False` when the bus already stores every event (inside the engine)."""
        self.store = store
        self.account_id = account_id
        self.publish = publish
        self.store_events = store_events
        self._pending: list[Event] = []

    def event(
        self,
        kind: EventKind,
        message: str,
        now: dt.datetime,
        *,
        reason: Reason | None = None,
        severity: str = "info",
        data: dict[str, Any] | None = None,
    ) -> Event:
        ev = Event(
            kind=kind,
            ts=now,
            account=self.account_id,
            severity=severity,
            message=message,
            code=reason.code if reason else None,
            data=data or {},
        )
        self._pending.append(ev)
        return ev

    async def write(self, conn: aiosqlite.Connection) -> list[Event]:
        """Insert the queued events inside the caller's open transaction."""
        out, self._pending = self._pending, []
        if not self.store_events:
            return out
        for ev in out:
            await insert_row(
                conn,
                "events",
                {
                    "ts": iso(ev.ts),
                    "account_id": ev.account,
                    "kind": ev.kind,
                    "severity": ev.severity,
                    "code": ev.code,
                    "message": ev.message,
                    "data_json": to_json(ev.data) if ev.data else None,
                },
            )
        return out

    async def flush(self) -> None:
        """Write queued events in their own transaction and publish them."""
        if not self._pending:
            return
        async with self.store.transaction() as conn:
            events = await self.write(conn)
        await self.announce(events)

    async def announce(self, events: list[Event]) -> None:
        if self.publish is None:
            return
        for ev in events:
            res = self.publish(ev)
            if inspect.isawaitable(res):
                await res


async def set_lineup(
    conn: aiosqlite.Connection,
    lineup_id: int,
    now: dt.datetime,
    *,
    status: str | None = None,
    reason: Reason | None = None,
    **values: Any,
) -> None:
    """Update one lineup row: status, reason_code/reason_text and any other columns."""
    cols: dict[str, Any] = dict(values)
    if status is not None:
        cols["status"] = status
    if reason is not None:
        cols["reason_code"] = reason.code
        cols["reason_text"] = reason.text
    cols["updated_at"] = iso(now)
    sets = ", ".join(f"{c}=?" for c in cols)
    params = [format(v, "f") if hasattr(v, "as_tuple") else v for v in cols.values()]
    await conn.execute(f"UPDATE lineup SET {sets} WHERE id=?", [*params, lineup_id])
