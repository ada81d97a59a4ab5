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
from engine.execution.ports import OrderPort
from engine.execution.records import Recorder, iso
from engine.store.db import Store

HALT_KEY = "halted"


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
    text = f"engine halted: {data.get('text', '')} (since {data.get('at')})"
    return Reason("halt.active", text)


def halt_value(reason: Reason | None, now: dt.datetime) -> str:
    """The engine_state value, in the same shape as engine.runtime's persist_halt."""
    if reason is None:
        return json.dumps({"halted": False})
    return json.dumps({"halted": True, "code": reason.code, "text": reason.text, "at": iso(now)})


async def is_halted(store: Store, account_id: str) -> bool:
    return await halt_reason(store, account_id) is not None


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
        for o in await port.orders():
            if is_putdesk_ref(o.order_ref) and o.working:
                try:
                    await port.cancel(o.order_ref)
                    cancelled.append(o.order_ref)
                except Exception as exc:  # each cancel is attempted; failures are reported
                    problems.append(f"{o.order_ref}: {exc}")
    else:
        problems.append("not connected to IBKR: no order could be cancelled")
    text = f"halted ({reason}); cancel sent for {len(cancelled)} orders"
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
