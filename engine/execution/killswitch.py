"""Kill switch: cancel every open putdesk order (orderRef prefix "pd-") and halt until released.

The halt is persisted in engine_state (key `halted`, value JSON {halted, code, text, at}: the
shape engine.runtime restores at start-up), so a restart stays halted; `is_halted` is
checked before every order is sent.
"""

from __future__ import annotations

import datetime as dt
import json

from engine.domain import Reason
from engine.execution.brackets import is_putdesk_ref
from engine.execution.intents import IntentRepo
from engine.execution.ports import OrderPort
from engine.execution.records import Recorder, iso, set_lineup
from engine.market.calendar import parse_utc, to_et
from engine.store.db import Store
from engine.store.lineup import IN_EXECUTION_STATUSES, sold_contracts

HALT_KEY = "halted"


def _et_text(at: object) -> str:
    """The halt's time for its message: New York date and time, as the schedule speaks."""
    t = parse_utc(at)
    return f"{to_et(t):%Y-%m-%d %H:%M:%S} ET" if t is not None else str(at)


async def halt_reason(store: Store, account_id: str) -> Reason | None:
    raw = await store.get_state(account_id, HALT_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return Reason("halt.active", "engine halted")
    if not isinstance(data, dict) or not data.get("halted"):
        return None
    text = f"engine halted: {data.get('text', '')} (since {_et_text(data.get('at'))})"
    return Reason("halt.active", text)


def halt_value(reason: Reason | None, now: dt.datetime) -> str:
    """The engine_state value, in the same shape as engine.runtime's persist_halt."""
    if reason is None:
        return json.dumps({"halted": False})
    return json.dumps({"halted": True, "code": reason.code, "text": reason.text, "at": iso(now)})


async def is_halted(store: Store, account_id: str) -> bool:
    return await halt_reason(store, account_id) is not None


#: Lineup states of an entry that execution has taken up (orders may be working).
IN_EXECUTION = IN_EXECUTION_STATUSES


async def close_lineup_entries(
    store: Store, account_id: str | None, reason: Reason, now: dt.datetime
) -> list[int]:
    """After a kill: every entry in execution ends with the kill's reason, "partial" when
    some of it was sold (its exits stay as IBKR has them), else "cancelled". Approved
    entries not yet taken up stay approved for the user to review."""
    marks = ",".join("?" for _ in IN_EXECUTION)
    closed: list[int] = []
    async with store.transaction() as conn:
        async with conn.execute(
            f"SELECT id FROM lineup WHERE account_id IS ? AND status IN ({marks})",
            (account_id, *IN_EXECUTION),
        ) as cur:
            ids = [int(r[0]) for r in await cur.fetchall()]
        for lid in ids:
            sold = await sold_contracts(conn, lid)
            await set_lineup(
                conn, lid, now, status="partial" if sold else "cancelled", reason=reason
            )
            closed.append(lid)
    return closed


async def kill(
    port: OrderPort | None,
    store: Store,
    account_id: str,
    recorder: Recorder,
    now: dt.datetime,
    reason: str = "kill switch pressed",
) -> tuple[list[str], Reason]:
    """Halt first (so nothing new is sent), then cancel every working putdesk order."""
    await store.set_state(account_id, HALT_KEY, halt_value(Reason("halt.killed", reason), now))
    cancelled: list[str] = []
    problems: list[str] = []
    if port is not None and port.connected():
        working = [o for o in await port.orders() if is_putdesk_ref(o.order_ref) and o.working]
        try:  # the cancels' records say why; never in the kill's way
            await IntentRepo(store, account_id).note_cancel(
                [o.order_ref for o in working], Reason("halt.killed", f"kill switch: {reason}"), now
            )
        except Exception as exc:
            problems.append(f"cancel reasons not recorded: {exc}")
        for o in working:
            try:
                await port.cancel(o.order_ref)
                cancelled.append(o.order_ref)
            except Exception as exc:  # each cancel is attempted; failures are reported
                problems.append(f"{o.order_ref}: {exc}")
    else:
        problems.append("not connected to IBKR: no order could be cancelled")
    closed = await close_lineup_entries(store, account_id, Reason("halt.killed", reason), now)
    text = f"halted ({reason}); cancel sent for {len(cancelled)} orders"
    if closed:
        text += f"; {len(closed)} lineup entries in execution closed"
    if problems:
        text += "; problems: " + "; ".join(problems)
    r = Reason("halt.killed", text)
    recorder.event(
        "engine.state",
        text,
        now,
        reason=r,
        severity="warning",
        data={"state": "halted", "cancelled": cancelled, "problems": problems},
    )
    await recorder.flush()
    return cancelled, r


async def resume(store: Store, account_id: str, recorder: Recorder, now: dt.datetime) -> Reason:
    async with store.transaction() as conn:
        await conn.execute(
            "DELETE FROM engine_state WHERE account_id=? AND key=?", (account_id, HALT_KEY)
        )
    r = Reason("halt.released", "halt released by the user")
    recorder.event("engine.state", r.text, now, reason=r, data={"state": "ready"})
    await recorder.flush()
    return r
