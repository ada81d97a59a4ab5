"""Assertions shared by the simulated-day tests."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from engine.runtime.engine import Engine


async def job_runs(eng: Engine, day: dt.date | None = None) -> dict[str, dict[str, Any]]:
    assert eng.store is not None
    rows = await eng.store.fetchall(
        "SELECT * FROM job_runs" + (" WHERE session_date=?" if day else "") + " ORDER BY id",
        (day.isoformat(),) if day else (),
    )
    return {r["job"]: r for r in rows}


def started_on_time(run: dict[str, Any], slack: dt.timedelta = dt.timedelta(minutes=2)) -> None:
    due = dt.datetime.fromisoformat(run["scheduled_for"])
    started = dt.datetime.fromisoformat(run["started_at"])
    assert due <= started <= due + slack, (run["job"], run["scheduled_for"], run["started_at"])


def book_orders(eng: Engine) -> list[Any]:
    return list(eng.sim.book.orders.values())


def no_duplicate_orders(eng: Engine) -> None:
    refs = [o.order.orderRef for o in book_orders(eng)]
    dup = [r for r, n in Counter(refs).items() if n > 1]
    assert not dup, dup


def brackets_protect_fills(eng: Engine) -> int:
    """Every filled putdesk SELL entry has its take-profit (and stop) child at the gateway,
    still working or filled. Returns how many entries filled."""
    by_ref = {o.order.orderRef: o for o in book_orders(eng)}
    filled = [
        o
        for o in book_orders(eng)
        if o.order.action == "SELL" and o.order.orderRef.startswith("pd-") and o.filled > 0
    ]
    for o in filled:
        ref = o.order.orderRef
        tp = by_ref.get(ref + "-tp")
        assert tp is not None and tp.order.action == "BUY" and tp.order.orderType == "LMT", ref
        assert tp.order.parentId == o.order.orderId, ref
        assert tp.status in ("Submitted", "PreSubmitted", "Filled"), (ref, tp.status)
        sl = by_ref.get(ref + "-sl")
        assert sl is not None and sl.order.orderType == "STP", ref
    return len(filled)


async def sold_per_lineup_at_most_quantity(eng: Engine) -> None:
    assert eng.store is not None
    rows = await eng.store.fetchall("SELECT id, quantity FROM lineup")
    for r in rows:
        sold = sum(
            Decimal(str(o.filled))
            for o in book_orders(eng)
            if o.order.action == "SELL" and o.order.orderRef.startswith(f"pd-L{r['id']}-")
        )
        assert sold <= r["quantity"], (r["id"], sold, r["quantity"])


async def job_events(eng: Engine, phase: str) -> Counter[str]:
    await eng.flush_events()
    assert eng.store is not None
    rows = await eng.store.fetchall(
        "SELECT data_json FROM events WHERE kind='job' AND json_extract(data_json,'$.phase')=?",
        (phase,),
    )
    import json

    return Counter(json.loads(r["data_json"])["job"] for r in rows)
