"""`putdesk engine | status | regime | events | kill | resume`.

`engine` runs the headless engine in the foreground. The others talk to the running engine for
the account over its local socket; when none runs they start one in-process for the duration of
the command (engine.cli.common.run), so `kill`/`resume` persist the halt either way and
`events --follow` follows the in-process engine until Ctrl-C. `--json` prints one JSON document
(docs/cli.md); `events --follow --json` prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from engine.cli.main import common_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="run the engine headless (scheduler, session, socket)")
    common_options(p)
    p.add_argument("--level", choices=["A", "B", "C"], help="automation level (default: config)")
    p.add_argument("--quiet", action="store_true", help="log to the file only, not stdout")
    p.set_defaults(func=_engine)

    s = sub.add_parser("status", help="connection, account, budget and halt state of the engine")
    common_options(s)
    s.set_defaults(func=_status)

    g = sub.add_parser(
        "regime", help="market regime (VIX, VIX/VIX3M, SPX vs 200-day) and the regime guard"
    )
    common_options(g)
    g.add_argument("--refresh", action="store_true", help="read it from IBKR now")
    g.set_defaults(func=_regime)

    e = sub.add_parser("events", help="recent engine events (--follow to keep reading)")
    common_options(e)
    e.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    e.add_argument("--limit", type=int, default=50, help="how many past events (default 50)")
    e.add_argument(
        "--debug",
        action="store_true",
        help="also the debug events (IBKR's raw order statuses, recorded again with a reason)",
    )
    e.set_defaults(func=_events)

    k = sub.add_parser("kill", help="cancel every open putdesk order and halt trading")
    common_options(k)
    k.add_argument("--reason", default="kill switch (command line)")
    k.set_defaults(func=_kill)

    r = sub.add_parser("resume", help="lift the halt set by kill")
    common_options(r)
    r.set_defaults(func=_resume)


def _load_cfg(args: argparse.Namespace) -> Any:
    from config.loader import ConfigError, load_config

    try:
        return load_config(args.config).for_account(getattr(args, "account", None))
    except (ConfigError, ValueError) as exc:
        from engine.cli.common import fail

        fail(args, str(exc), 1, "config.invalid")
        return None


def _engine(args: argparse.Namespace) -> int:
    cfg = _load_cfg(args)
    if cfg is None:
        return 1
    from config.models import AutomationLevel
    from engine.runtime.headless import run_headless

    level = AutomationLevel(args.level) if args.level else None
    return asyncio.run(
        run_headless(
            cfg,
            live=args.live,
            level=level,
            account=args.account,
            config_path=args.config,
            stdout=not args.quiet,
        )
    )


def _status(args: argparse.Namespace) -> int:
    from engine.api.models import GetStatus
    from engine.cli import common

    return common.run(args, GetStatus(), _render_status)


def _once(reason: str, connection_reason: str) -> str:
    """`reason` with the connection's reason, already shown on the Connection row, said as
    "(see Connection)" instead of a second (and third) time."""
    if not connection_reason or len(connection_reason) <= 20 or connection_reason not in reason:
        return reason
    for joined in (f": {connection_reason}", f" ({connection_reason})", connection_reason):
        if joined in reason:
            return reason.replace(joined, " (see Connection)").strip()
    return reason


def _render_status(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from engine.cli.common import dollars

    con = Console()
    eng, c, b, h = d["engine"], d["connection"], d["budget"], d["halted"]
    t = Table(
        title=f"putdesk engine {eng['account_key']} {eng.get('label') or ''}".strip(),
        show_header=False,
    )
    t.add_column("", style="bold")
    t.add_column("")
    conn_reason = str(c.get("reason") or "")
    t.add_row("Connection", f"{c['state']}" + (f" ({conn_reason})" if conn_reason else ""))
    t.add_row("Account", f"{c.get('account') or '-'} {c.get('account_kind') or ''}")
    t.add_row("Market data", c.get("market_data_type") or "-")
    t.add_row(
        "Trading",
        "allowed"
        if c["trading_allowed"]
        else "blocked: " + _once(str(c["trading_reason"]), conn_reason),
    )
    t.add_row("Halted", ("yes: " + (h.get("reason") or "")) if h["halted"] else "no")
    t.add_row("Level", f"{eng['level']}  live flag: {'on' if eng['live_flag'] else 'off'}")
    ai = d.get("ai") or {}
    if ai:
        t.add_row("AI", str(ai.get("reason") or ("on" if ai.get("enabled") else "off")))
    if b.get("available"):
        t.add_row("Net liquidation", dollars(b["net_liquidation"]))
        t.add_row("Margin in use", dollars(b["full_maint_margin"]))
        t.add_row("Budget", f"{dollars(b['budget'])} ({b['budget_pct']:g}% of NLV)")
        if b.get("working_margin") not in (None, "0", "0.00"):
            t.add_row(
                "Orders working", f"{dollars(b['working_margin'])} margin (sent, not yet filled)"
            )
        if b.get("lineup_margin") not in (None, "0", "0.00"):
            t.add_row("Lineup margin", dollars(b["lineup_margin"]))
        t.add_row("Headroom", dollars(b["headroom"]))
    else:
        t.add_row("Budget", "unavailable: " + _once(str(b.get("reason")), conn_reason))
    t.add_row("Regime", regime_line(d.get("regime") or {}))
    accounts = d.get("accounts") or []
    if len(accounts) > 1:
        t.add_row(
            "Accounts",
            ", ".join(
                (f"{a['label']} " if a["label"] != a["account"] else "")
                + a["account"]
                + (" (this)" if a["this_engine"] else " running" if a["running"] else " stopped")
                for a in accounts
            ),
        )
    if d.get("lineup"):
        t.add_row("Lineup", ", ".join(f"{k} {v}" for k, v in d["lineup"].items()))
    t.add_row("Open orders", str(len(d.get("open_orders", []))))
    bare = d.get("unprotected") or []
    if bare:
        names = ", ".join(f"#{u['trade_id']} {u['symbol']}" for u in bare)
        t.add_row(
            "Unprotected",
            f"{len(bare)} open trade(s) with no exit order working ({names}): "
            "putdesk protect-exits",
        )
    p = d["pacing"]
    t.add_row(
        "Pacing",
        f"{p['sent']} msgs, peak {p['peak_per_window']}/{p['max_per_s']} per s, "
        f"lines {p['lines_in_use']}/{p['max_lines']}",
    )
    con.print(t)
    if d.get("open_orders"):
        ot = Table(title="Open putdesk orders")
        for col in ("ref", "symbol", "action", "qty", "type", "price", "status"):
            ot.add_column(col)
        for o in d["open_orders"]:
            price = o.get("limit_price")
            if price is None and o.get("aux_price") is not None:
                price = f"stop {o['aux_price']:g}"
            ot.add_row(
                str(o["order_ref"]),
                str(o["local_symbol"] or o["symbol"]),
                o["action"],
                f"{o['quantity']:g}",
                o["order_type"],
                str(price if price is not None else ""),
                o["status"],
            )
        con.print(ot)
    if d.get("schedule") and "today" in d["schedule"]:  # added by engine.scheduler
        from engine.scheduler.display import render_schedule

        render_schedule(d["schedule"], con)


def regime_line(r: dict[str, Any]) -> str:
    """One line for a RegimeFeed status: the label and its age, or why there is none."""
    reading = r.get("reading")
    if not reading:
        return "not read yet (putdesk regime reads it)" + (
            f": {r['error']}" if r.get("error") else ""
        )
    age = int(r.get("age_s") or 0)
    when = f"{age // 60} min ago" if age >= 60 else "just now"
    return f"{reading['label']} (read {when})"


def _regime(args: argparse.Namespace) -> int:
    from engine.api.models import GetRegime
    from engine.cli import common

    return common.run(args, GetRegime(refresh=args.refresh), _render_regime)


def _render_regime(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    r, g = d["reading"], d["guard"]
    t = Table(title="Market regime", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("Regime", regime_line(d))
    t.add_row("VIX", f"{r['vix']:.2f} ({r['vix_bucket']})")
    vix3m = r.get("vix3m")
    t.add_row(
        "VIX3M",
        "-" if vix3m is None else f"{vix3m:.2f}  VIX/VIX3M {r['vix_ratio']:.3f} ({r['term']})",
    )
    spx, avg = r.get("spx"), r.get("spx_sma200")
    t.add_row(
        "SPX",
        "-"
        if spx is None
        else f"{spx:.2f}"
        + (f"  200-day {avg:.2f} (trend {r['trend']})" if avg is not None else "  (trend unknown)"),
    )
    if not g["enabled"]:
        guard = "off (selection.regime_guard.enabled)"
    else:
        guard = f"BLOCKS new puts: {g['reason']}" if g["blocks"] else "on, clear"
    t.add_row("Guard", guard)
    if d.get("error"):
        t.add_row("Last error", str(d["error"]))
    Console().print(t)


def _events(args: argparse.Namespace) -> int:
    from engine.api.models import GetEvents
    from engine.cli import common

    cmd = GetEvents(limit=max(1, min(args.limit, 10_000)), debug=args.debug)
    if not args.follow:
        return common.run(args, cmd, _render_events)

    async def follow(api: Any) -> int:
        stream = api.events()
        result = await api.request(cmd)
        if not result.ok:
            return common.emit(args, result, _render_events)
        for ev in result.data.get("events", []):
            _print_event(args, ev)
        async for e in stream:
            if args.debug or e.severity != "debug":
                _print_event(args, e.model_dump(mode="json"))
        return 0

    return common.run_async(args, follow)


def _print_event(args: argparse.Namespace, ev: dict[str, Any]) -> None:
    from engine.api.models import SCHEMA_VERSION
    from engine.cli.common import format_event

    if args.json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, **ev}, default=str), flush=True)
    else:
        print(format_event(ev), flush=True)


def _render_events(data: dict[str, Any]) -> None:
    from engine.cli.common import format_event

    for ev in data.get("events", []):
        print(format_event(ev), flush=True)


def _kill(args: argparse.Namespace) -> int:
    from engine.api.models import Kill
    from engine.cli import common

    def render(d: dict[str, Any]) -> None:
        print(
            f"halted; {d.get('cancelled', 0)} putdesk order(s) cancelled"
            + (f" ({d['error']})" if d.get("error") else "")
        )

    return common.run(args, Kill(reason=args.reason), render)


def _resume(args: argparse.Namespace) -> int:
    from engine.api.models import Resume
    from engine.cli import common

    def render(d: dict[str, Any]) -> None:
        print(
            "resumed; trading "
            + ("allowed" if d.get("trading_allowed") else "blocked: " + str(d.get("reason")))
        )

    return common.run(args, Resume(), render)
