"""Reads `TradeOutcome`s from the database: option trades with their lineup entry's selection
data, NakedTrader's entry plan, and the stock legs of assignments folded in.

An assigned put is not done when the option closes: its result includes the stock delivered
(the stock trade linked by `related_trade_id`), so the outcome is open while the shares are
held and, once they are sold, its net P&L is the option's plus the stock's.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from engine.market.calendar import to_et
from engine.records.outcomes import TradeOutcome
from engine.store.db import Store
from engine.store.trades import TradeRow, TradesRepo

OPTION_TYPES = ("OPT", "FOP")
SELECTION_SCORES = {
    "score": "score",
    "safety": "score_safety",
    "liquidity": "score_liquidity",
    "ai": "score_ai",
    "efficiency": "score_efficiency",
}


def _float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _json(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        v = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _dte(t: TradeRow, fallback: Any) -> int | None:
    """Days from the entry (New York date) to expiry; the selection's DTE without an entry."""
    if t.entry_time is not None and t.expiry:
        try:
            exp = dt.datetime.strptime(t.expiry[:8], "%Y%m%d").date()
        except ValueError:
            exp = None
        if exp is not None:
            return (exp - to_et(t.entry_time).date()).days
    f = _float(fallback)
    return None if f is None else int(f)


async def load_outcomes(
    store: Store, since: dt.date | None = None, strategy: str | None = None
) -> list[TradeOutcome]:
    """Option trades opened or closed since `since` (all when None), of `strategy` if given."""
    repo = TradesRepo(store)
    trades = [
        t
        for t in await repo.trades_since(since, strategy=strategy)
        if t.sec_type in OPTION_TYPES and t.status != "void"
    ]
    if not trades:
        return []
    ids = [t.id for t in trades]
    marks = ",".join("?" for _ in ids)
    legs: dict[int, list[TradeRow]] = {}
    for row in await store.fetchall(
        f"SELECT * FROM trades WHERE related_trade_id IN ({marks}) AND sec_type='STK'", ids
    ):
        leg = TradeRow.from_db(row)
        assert leg.related_trade_id is not None
        legs.setdefault(leg.related_trade_id, []).append(leg)
    lineup_ids = sorted({t.lineup_id for t in trades if t.lineup_id is not None})
    lineups: dict[int, dict[str, Any]] = {}
    if lineup_ids:
        lmarks = ",".join("?" for _ in lineup_ids)
        for row in await store.fetchall(
            f"SELECT id, sector, margin_per_contract, selection_json FROM lineup "
            f"WHERE id IN ({lmarks})",
            lineup_ids,
        ):
            lineups[int(row["id"])] = row
    refs = sorted({t.entry_order_ref for t in trades if t.entry_order_ref and not t.lineup_id})
    plans: dict[str, dict[str, Any]] = {}
    if refs:
        rmarks = ",".join("?" for _ in refs)
        for row in await store.fetchall(
            f"SELECT order_ref, payload_json FROM order_intents WHERE order_ref IN ({rmarks})",
            refs,
        ):
            plans[str(row["order_ref"])] = _json(row["payload_json"]).get("plan") or {}
    out = []
    for t in trades:
        lineup = lineups.get(t.lineup_id) if t.lineup_id is not None else None
        sel = _json(lineup["selection_json"]) if lineup else {}
        plan_sel = (plans.get(t.entry_order_ref or "") or {}).get("selection") or {}
        delta = _float(sel.get("delta"))
        if delta is None:
            delta = _float(plan_sel.get("delta"))
        margin = None
        if lineup and lineup.get("margin_per_contract") not in (None, ""):
            margin = Decimal(str(lineup["margin_per_contract"])) * t.quantity
        premium = (  # the credit of a sold option
            abs(t.entry_price * t.quantity * t.multiplier)
            if t.entry_price is not None and t.side == "short"
            else None
        )
        status, net = t.status, t.net_pnl
        for leg in legs.get(t.id, []):
            if leg.status != "closed" or leg.net_pnl is None:
                status = "open"  # the assigned shares are still held
            elif net is not None:
                net += leg.net_pnl
        out.append(
            TradeOutcome(
                trade_id=t.id,
                strategy=t.trade_strategy,
                symbol=t.symbol,
                status=status,
                exit_reason=t.exit_reason,
                net_pnl=net,
                premium=premium,
                margin=margin,
                delta=abs(delta) if delta is not None else None,
                dte=_dte(t, sel.get("dte")),
                sector=(lineup or {}).get("sector"),
                regime=t.regime,
                scores={k: _float(sel.get(col)) for k, col in SELECTION_SCORES.items()},
                config_snapshot_id=t.config_snapshot_id,
                arm=f"{sel['ab_test']} {sel['ab_arm']}" if sel.get("ab_arm") else None,
            )
        )
    return out
