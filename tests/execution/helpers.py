"""Shared set-up for the execution scenario tests: a store with an approved lineup entry and a
fake exchange listing XYZ puts around 100."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.models import PutdeskConfig
from engine.execution.workflow import TwoTierWorkflow
from engine.store.db import Store
from tests.execution.fakes import FakeExchange

EXPIRY = "20261127"
STRIKES = [80.0, 82.5, 85.0, 87.5, 90.0, 92.5, 95.0]
ACCOUNT = "DU1234567"


def make_exchange(seed: int = 0) -> FakeExchange:
    ex = FakeExchange(account=ACCOUNT)
    ex.prices["XYZ"] = 100.0
    ex.list_chain("XYZ", EXPIRY, STRIKES, 5000)
    for k in STRIKES:
        bid = round(0.45 + (k - 90) * 0.1 + seed * 0.0, 2)
        ex.set_quote(ex.con("XYZ", EXPIRY, k), max(bid, 0.05), max(bid, 0.05) + 0.10)
    return ex


def config(**execution: Any) -> PutdeskConfig:
    cfg = PutdeskConfig()
    ex = cfg.execution.model_copy(update=execution)
    sel = cfg.selection.model_copy(update={"min_premium": Decimal("0.20"), "max_spread_pct": 60.0})
    return cfg.model_copy(update={"execution": ex, "selection": sel})


async def add_lineup(
    store: Store,
    ex: FakeExchange,
    *,
    quantity: int = 2,
    strike: float = 90.0,
    status: str = "approved",
    stale: int = 0,
) -> int:
    now = ex.clock.now().isoformat()
    return await store.insert(
        "lineup",
        {
            "account_id": ACCOUNT,
            "symbol": "XYZ",
            "sector": "Tech",
            "con_id": ex.con("XYZ", EXPIRY, strike),
            "expiry": EXPIRY,
            "strike": format(Decimal(str(strike)), "f"),
            "right": "P",
            "quantity": quantity,
            "limit_price": "0.50",
            "premium": "0.50",
            "otm_pct": (100 - strike),
            "status": status,
            "stale": stale,
            "created_at": now,
            "updated_at": now,
        },
    )


Hook = Callable[[FakeExchange], None]


def workflow(
    store: Store, ex: FakeExchange, cfg: PutdeskConfig, hook: Hook | None = None, **kw: Any
) -> TwoTierWorkflow:
    async def sleep(seconds: float) -> None:
        if hook is not None:
            hook(ex)
        await ex.advance(seconds)

    return TwoTierWorkflow(
        store=store,
        account_id=ACCOUNT,
        port=ex,
        market=ex,
        clock=ex.clock,
        config=cfg,
        sleep=sleep,
        poll_s=10.0,
        **kw,
    )


async def open_store(tmp: Path) -> Store:
    return await Store.open(tmp / "putdesk.db")


async def lineup_row(store: Store, lid: int) -> dict[str, Any]:
    row = await store.fetchone("SELECT * FROM lineup WHERE id=?", (lid,))
    assert row is not None
    return row


def at(ex: FakeExchange) -> dt.datetime:
    return ex.clock.now()


Runner = Callable[[], Awaitable[Any]]
