"""NakedTrader's native bracket: plan (pure, through engine.execution.brackets) and placement.

Placement order, so a crash never leaves an order the database does not know:
1. the three legs are written to `order_intents` (status pending, purpose nt_entry /
   nt_take_profit / nt_stop) in one transaction;
2. the trades row is written (status pending, trade_strategy "nakedtrader");
3. the bracket is sent through `OrderGateway.place_bracket` (guarded by the session);
4. intents become "sent" and the trade gets its entry / exit / stop order ids.
A refusal at step 3 marks the intents void and the trade "void": nothing reached IBKR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from config.nakedtrader import NakedTraderConfig
from engine.broker.errors import BrokerError
from engine.domain import OptionRef, Reason
from engine.execution.brackets import Bracket, plan_bracket
from engine.execution.intents import IntentRepo
from engine.nakedtrader.recorder import NtRecorder
from engine.nakedtrader.selector import Selection

PURPOSE_PREFIX = "nt_"


class BracketGateway(Protocol):
    """What placement needs from engine.broker.orders.OrderGateway."""

    async def place_bracket(
        self,
        contract: Any,
        quantity: int,
        limit: Decimal,
        take_profit: Decimal,
        stop: Decimal | None,
        order_ref: str,
        *,
        action: str = "SELL",
    ) -> Any: ...


def plan_nt_bracket(
    selection: Selection, cfg: NakedTraderConfig, key: str
) -> tuple[Bracket | None, Reason]:
    """SELL `contracts` at the selection's limit; take-profit at `profit_take_pct` of the
    premium (BUY LMT GTC); stop at `stop_multiple` x premium (BUY STP GTC) unless null."""
    return plan_bracket(
        key=key,
        symbol=selection.option.symbol,
        quantity=cfg.contracts,
        limit_price=selection.limit_price,
        take_profit_pct=cfg.profit_take_pct,
        stop_multiple=cfg.stop_multiple,
        min_premium=cfg.min_premium,
    )


def bracket_dict(b: Bracket) -> dict[str, Any]:
    def m(v: Decimal | None) -> str | None:
        return None if v is None else format(v, "f")

    return {
        leg.leg: {
            "order_ref": leg.order_ref,
            "action": leg.action,
            "order_type": leg.order_type,
            "quantity": leg.quantity,
            "limit_price": m(leg.limit_price),
            "stop_price": m(leg.aux_price),
            "tif": leg.tif,
        }
        for leg in b.legs
    }


@dataclass(frozen=True)
class Placed:
    trade_id: int
    order_ref: str
    entry_order_id: int
    exit_order_id: int
    stop_order_id: int | None


def _order_id(trade: Any) -> int:
    return int(trade.order.orderId) if trade is not None else 0


async def place_nt_bracket(
    bracket: Bracket,
    option: OptionRef,
    contract: Any,
    *,
    gateway: BracketGateway,
    intents: IntentRepo,
    recorder: NtRecorder,
    now: dt.datetime,
    config_snapshot_id: int | None,
    notes: str,
    payload: dict[str, Any],
) -> tuple[Placed | None, Reason]:
    """Write intents and the trade row, then send the bracket (see the module docstring)."""
    refs = [leg.order_ref for leg in bracket.legs]
    await intents.write_legs(
        bracket.legs,
        option,
        lineup_id=None,
        now=now,
        purpose_prefix=PURPOSE_PREFIX,
        payload=payload,
    )
    trade_id = await recorder.record_entry(
        option, bracket, now, config_snapshot_id=config_snapshot_id, notes=notes
    )
    take = bracket.take_profit
    assert bracket.entry.limit_price is not None and take.limit_price is not None
    try:
        sent = await gateway.place_bracket(
            contract,
            bracket.entry.quantity,
            bracket.entry.limit_price,
            take.limit_price,
            bracket.stop.aux_price if bracket.stop is not None else None,
            bracket.entry.order_ref,
        )
    except BrokerError as exc:
        await intents.set_status(refs, "void", now, exc.reason)
        await recorder.mark(trade_id, status="void", bracket_status="not_sent")
        return None, exc.reason
    await intents.set_status(refs, "sent", now)
    placed = Placed(
        trade_id=trade_id,
        order_ref=bracket.entry.order_ref,
        entry_order_id=_order_id(sent.parent),
        exit_order_id=_order_id(sent.take_profit),
        stop_order_id=_order_id(sent.stop_loss) if sent.stop_loss is not None else None,
    )
    await recorder.record_sent(
        trade_id, placed.entry_order_id, placed.exit_order_id, placed.stop_order_id
    )
    return placed, Reason(
        "nt.placed",
        f"bracket {bracket.entry.order_ref} sent: SELL {bracket.entry.quantity} "
        f"{option.trading_class} {option.expiry} {option.strike:g}P @ {bracket.entry.limit_price}",
    )
