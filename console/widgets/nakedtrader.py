"""The NakedTrader pane: today's plan, today's trade and its bracket (from NtStatus)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.text import Text
from textual.widgets import Static

from console.format import DASH, ET, expiry, money, num
from console.widgets.tones import tone


class NakedTraderView(Static):
    def _zone_and_day(self) -> tuple[dt.tzinfo | None, dt.date | None]:
        """The local zone and today in New York, from the app's clock when it has one."""
        now = getattr(self.app, "now", None)
        day = now().astimezone(ET).date() if callable(now) else None
        return getattr(self.app, "local_zone", None), day

    def show(self, data: dict[str, Any]) -> None:
        t = Text()
        plan = data.get("plan") or {}
        t.append("Today's plan\n", style="bold underline")
        if plan:
            rng = plan.get("delta_range") or [None, None]
            sym, cls = plan.get("symbol", DASH), plan.get("trading_class")
            t.append(
                f"  {sym}{f' ({cls})' if cls and cls != sym else ''}  "
                f"target Δ {num(plan.get('target_delta'), 3)} "
                f"range {num(rng[0], 3)}-{num(rng[1], 3)}\n"
                f"  {_when(plan.get('scheduled_at'), *self._zone_and_day())}\n"
                + (f"  {_window(plan)}\n" if "entry_window" in plan else "")
                + f"  {'dry run (no orders)' if plan.get('dry_run') else 'sends orders'}"
                f" · contracts {plan.get('contracts', DASH)}\n"
            )
        else:
            t.append("  no plan for today\n")
        trade = data.get("trade")
        t.append("Today's trade\n", style="bold underline")
        if trade:
            t.append(
                f"  SELL {trade.get('quantity', DASH)} {trade.get('symbol', DASH)} "
                f"{num(trade.get('strike'), 0)}P {expiry(trade.get('expiry'))}  "
                f"Δ {num(trade.get('delta'), 3)}  {entry_state(trade)}\n"
            )
            if trade.get("widen_steps"):
                t.append(
                    f"  chosen after widening the delta band {trade['widen_steps']}x "
                    "(nothing in the planned range)\n",
                    style=tone(self, "warning-domain"),
                )
            pnl = trade.get("pnl")
            if pnl is not None:
                style = tone(self, "profit" if float(pnl) >= 0 else "loss")
                t.append("  P&L ")
                t.append(money(pnl, 2), style=style)
                t.append("\n")
        else:
            t.append("  no trade yet today\n")
        bracket = data.get("bracket") or {}
        t.append("Bracket\n", style="bold underline")
        if bracket:
            t.append(f"  status {bracket.get('status', DASH)}\n")
            tp = bracket.get("take_profit") or {}
            st = bracket.get("stop") or {}
            if tp:
                t.append(f"  take-profit BUY @ {num(tp.get('price'))}  {tp.get('status', DASH)}\n")
            if st:
                t.append(f"  stop BUY @ {num(st.get('price'))}  {st.get('status', DASH)}\n")
        else:
            t.append("  none\n")
        if data.get("message"):
            t.append(f"\n{data['message']}\n", style="italic")
        self.update(t)


def entry_state(trade: dict[str, Any]) -> str:
    """What became of the entry: its fill and premium, else working or cancelled unfilled."""
    if trade.get("entry_price") is not None:
        return f"filled {num(trade.get('entry_price'))}  premium {money(trade.get('premium'), 2)}"
    if trade.get("status") == "cancelled":
        return "entry cancelled unfilled"
    return "entry working (not filled yet)"


def _window(plan: dict[str, Any]) -> str:
    """Today's entry window (a run, `n` included, is refused outside it)."""
    window = plan.get("entry_window")
    if not window:
        return "no entry today (not an NYSE session)"
    return f"entry window {window} ET (a run outside it is refused)"


def _when(
    scheduled_at: Any, local_zone: dt.tzinfo | None = None, today: dt.date | None = None
) -> str:
    """The daily run's time in New York and, when it differs, in the local zone (on today's
    date, so daylight saving is right), or why there is none (`enabled: false`; `n` still
    runs it)."""
    if not scheduled_at:
        return "not scheduled (enabled: false in daily_spx_options.yaml; n runs it)"
    text = f"runs daily at {scheduled_at} ET"
    try:
        at = dt.time.fromisoformat(str(scheduled_at))
    except ValueError:
        return text
    day = today or dt.datetime.now(ET).date()
    when = dt.datetime.combine(day, at, tzinfo=ET)
    if local_zone is None:
        return text
    loc = when.astimezone(local_zone)
    if loc.utcoffset() == when.utcoffset():
        return text
    return f"{text} ({loc:%H:%M} {loc.tzname() or 'local'})"
