"""What a confirmation dialog says will happen, from the state the console shows: the
entries Execute now sends, the orders the kill switch cancels and the positions it leaves
without exits, the positions Protect places exits for, the NakedTrader plan a run follows.
Pure functions of that state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from console.format import expiry, money
from console.widgets.lineup import entry_credit, entry_margin
from console.widgets.positions import WORKING_STATUSES

#: Contracts named in a dialog before the rest are only counted.
MAX_NAMED = 6
EXIT_ROLES = ("take_profit", "stop")
#: How the kill dialog counts orders by bracket role, in this order.
ROLE_WORDS = {
    "entry": ("entry", "entries"),
    "take_profit": ("take-profit", "take-profits"),
    "stop": ("stop", "stops"),
}


def contract_text(d: dict[str, Any]) -> str:
    """'NVDA 125P Dec04' for an option (lineup entry, position or order), else the symbol."""
    sym = str(d.get("symbol") or "?")
    if not d.get("strike"):
        return sym
    try:
        strike = f"{float(d['strike']):g}"
    except (TypeError, ValueError):
        strike = str(d["strike"])
    return f"{sym} {strike}{d.get('right') or 'P'} {expiry(d.get('expiry'))}"


def _named(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def execute_text(entries: Sequence[dict[str, Any]]) -> str:
    """What Execute now would send: the approved entries, their margin and credit at the
    scan's bid; the staged ones it leaves alone; or that nothing is approved."""
    approved = [e for e in entries if e.get("status") == "approved"]
    staged = [e for e in entries if (e.get("status") or "staged") == "staged"]
    if not approved:
        text = "Nothing is approved, so this run sends nothing (space approves one entry, p all)."
        if staged:
            text += f" {_plural(len(staged), 'staged entry', 'staged entries')} waiting."
        return text
    names = [f"{contract_text(e)} x{int(e.get('quantity') or 0)}" for e in approved]
    margin = sum(entry_margin(e) for e in approved)
    credits = [entry_credit(e) for e in approved]
    credit = sum(c for c in credits if c is not None)
    text = (
        f"Sends {_plural(len(approved), 'approved entry', 'approved entries')}: "
        f"{_named(names)}.\nMargin {money(margin)}"
    )
    if all(c is not None for c in credits):
        text += f", credit at the scan's bid {money(credit)}"
    text += "."
    if staged:
        text += (
            f"\n{_plural(len(staged), 'staged entry', 'staged entries')} "
            f"not approved {'stays' if len(staged) == 1 else 'stay'} in the lineup."
        )
    return text


def _working_putdesk(orders: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if o.get("status") in WORKING_STATUSES and o.get("putdesk")]


def _open_positions(positions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in positions if float(p.get("quantity") or p.get("position") or 0) != 0]


def kill_text(positions: Sequence[dict[str, Any]], orders: Sequence[dict[str, Any]]) -> str:
    """What the kill switch would cancel now, and which open positions it leaves without a
    working take-profit or stop."""
    working = _working_putdesk(orders)
    if not working:
        return (
            "Halt the engine? No putdesk order is working now, so nothing is cancelled.\n"
            "Nothing is sent again until you resume (R)."
        )
    counts: dict[str, int] = {}
    for o in working:
        role = str(o.get("role") or "order")
        counts[role] = counts.get(role, 0) + 1
    rank = list(ROLE_WORDS)
    parts = [
        _plural(n, *ROLE_WORDS.get(role, ("order", "orders")))
        for role, n in sorted(
            counts.items(), key=lambda kv: rank.index(kv[0]) if kv[0] in rank else 9
        )
    ]
    exits_of = {int(o.get("con_id") or 0) for o in working if o.get("role") in EXIT_ROLES}
    bare = [
        contract_text(p)
        for p in _open_positions(positions)
        if int(p.get("con_id") or 0) in exits_of
    ]
    text = (
        f"Cancel ALL {_plural(len(working), 'working putdesk order')} "
        f"({', '.join(parts)}) and halt the engine?"
    )
    if bare:
        text += (
            f"\n{_plural(len(bare), 'open position')} "
            + ("loses its exits and stays" if len(bare) == 1 else "lose their exits and stay")
            + f" open, UNPROTECTED: {_named(bare)}. P places exits again."
        )
    return text + "\nNothing is sent again until you resume (R)."


def protect_text(positions: Sequence[dict[str, Any]]) -> str:
    """Which open positions Protect would place a take-profit and a stop for."""
    bare = [
        contract_text(p)
        for p in _open_positions(positions)
        if p.get("bracket_status") == "unprotected"
    ]
    if not bare:
        return (
            "Every open putdesk position shows exits working: nothing is expected to be placed. "
            "Ask IBKR anyway (exits cancelled in TWS show after the next refresh)?"
        )
    return (
        f"Place a take-profit and a stop for {_plural(len(bare), 'open position')} without "
        f"exits: {_named(bare)}?"
    )


def nt_text(data: dict[str, Any]) -> str:
    """What a NakedTrader run would do: today's plan (symbol, delta band, contracts, dry run
    or orders, entry window), and today's trade when there is one already."""
    plan = data.get("plan") or {}
    if not plan:
        return "Select and place today's index put now? (no plan is shown yet)"
    rng = plan.get("delta_range") or [None, None]
    how = "dry run, no orders" if plan.get("dry_run") else "sends orders"

    def d(v: Any) -> str:
        return f"{float(v):.3f}" if v is not None else "?"

    text = (
        f"Select and place today's {plan.get('symbol', '?')} put now: target |delta| "
        f"{d(plan.get('target_delta'))} (band {d(rng[0])}-{d(rng[1])}), "
        f"{_plural(int(plan.get('contracts') or 0), 'contract')}, {how}?"
    )
    window = plan.get("entry_window")
    if "entry_window" in plan:
        text += (
            f"\nEntry window {window} ET: a run outside it is refused."
            if window
            else "\nNo NYSE session today: the run is refused."
        )
    trade = data.get("trade")
    if trade:
        text += (
            f"\nToday's trade exists already: SELL {trade.get('quantity', '?')} "
            f"{contract_text({**trade, 'right': 'P'})} (max_daily_trades decides a second)."
        )
    return text
