"""`putdesk nt`, `putdesk nt-watch`, `putdesk nt-status`: NakedTrader from the command line.

`nt` selects and places today's SPX/XSP/SPY put (dry run by default on a live account; `--live`
places, `--dry-run` only shows the plan). Every NakedTrader setting can be overridden with an
option named after it (`--delta-target 0.07 --contracts 2`; `--stop-multiple none` for no
stop); a bad value is a usage error (exit 2) that names the option. Exit codes: 0 ok, 1 error,
2 usage, 3 refused by a guard (outside the entry window, daily limit, not connected, halted).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from engine.cli.main import common_options

#: NakedTrader settings that are not command-line options (enabled is for the scheduler; the
#: account comes from --account).
NOT_OPTIONS = frozenset({"enabled", "account"})
NULL_WORDS = frozenset({"none", "null", "off"})


def nt_option_names() -> list[str]:
    """Config keys overridable on the command line, in the model's order."""
    from config.nakedtrader import NakedTraderConfig

    return [k for k in NakedTraderConfig.model_fields if k not in NOT_OPTIONS]


def register(sub: argparse._SubParsersAction) -> None:
    from config.nakedtrader import NakedTraderConfig

    p = sub.add_parser("nt", help="NakedTrader: select and place today's index put")
    common_options(p)
    p.add_argument(
        "--dry-run", action="store_true", help="only show the plan (default on a live account)"
    )
    group = p.add_argument_group("NakedTrader settings (override daily_spx_options.yaml)")
    for name in nt_option_names():
        field = NakedTraderConfig.model_fields[name]
        desc = field.description or f"{name.replace('_', ' ')}"
        default = field.default
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=f"nt_{name}",
            metavar="VALUE",
            help=f"{desc} (default {default!s})",
        )
    p.set_defaults(func=_nt)

    w = sub.add_parser("nt-watch", help="NakedTrader: follow brackets, fills and settlement")
    common_options(w)
    w.add_argument("--follow", action="store_true", help="keep watching until nothing is live")
    w.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    w.set_defaults(func=_nt_watch)

    s = sub.add_parser("nt-status", help="NakedTrader: today's and open trades, net P&L")
    common_options(s)
    s.set_defaults(func=_nt_status)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """{config key: raw string} for every option given (`none` -> None for nullable keys)."""
    out: dict[str, Any] = {}
    for name in nt_option_names():
        v = getattr(args, f"nt_{name}", None)
        if v is None:
            continue
        out[name] = None if str(v).strip().lower() in NULL_WORDS else v
    return out


def dry_run_flag(args: argparse.Namespace) -> bool | None:
    """--dry-run -> True, --live -> False, neither -> None (engine default)."""
    if getattr(args, "dry_run", False):
        return True
    if getattr(args, "live", False):
        return False
    return None


def _emit(args: argparse.Namespace, result: Any, render: Any) -> int:
    if args.json:
        from engine.cli.common import command_name, print_json, result_document

        print_json(result_document(command_name(args), result))
    else:
        if result.data:
            render(result.data)
        if not result.ok:
            code = f" [{result.reason_code}]" if result.reason_code else ""
            word = "refused" if result.exit_code == 3 else "error"
            print(f"{word}{code}: {result.error}", file=sys.stderr)
    return int(result.exit_code)


def _request(args: argparse.Namespace, cmds: Any, render: Any, follow: float | None = None) -> int:
    from engine.cli import common

    async def work(api: Any) -> int:
        while True:
            result = await api.request(cmds)
            code = _emit(args, result, render)
            live = result.data.get("open") if result.ok else None
            if follow is None or not live:
                return code
            await asyncio.sleep(follow)

    try:
        return common.run_async(args, work)
    except Exception as exc:
        return common.fail(args, str(exc))


def render_plan(data: dict[str, Any]) -> None:
    plan = data.get("plan") or {}
    print(f"NakedTrader {data.get('status')}: {data.get('reason')}")
    if plan:
        print(
            f"  {plan.get('instrument')} {plan.get('underlying_price')}  class "
            f"{plan.get('trading_class')}  expiry {plan.get('expiry')} ({plan.get('dte')} DTE)"
        )
        print(f"  selection: {plan.get('selection_reason')}")
        for leg, o in (plan.get("bracket") or {}).items():
            price = o.get("limit_price") or o.get("stop_price")
            print(
                f"  {leg:<12} {o['action']} {o['quantity']} {o['order_type']} {price} "
                f"{o['tif']}  {o['order_ref']}"
            )
    print(f"  entries today: {data.get('entries_today')} of {data.get('max_daily_trades')}")


def render_status(data: dict[str, Any]) -> None:
    print(
        f"NakedTrader {data.get('date')}  instrument {data.get('instrument')}  entries "
        f"{data.get('entries_today')}/{data.get('max_daily_trades')}  net today "
        f"{data.get('net_pnl_today')} (commission {data.get('commission_today')})"
    )
    if data.get("config_error"):
        print(f"  config error: {data['config_error']}")
    print(
        f"{'id':>4} {'status':<9} {'bracket':<19} {'symbol':<5} {'expiry':<9} {'strike':>8} "
        f"{'qty':>3} {'entry':>7} {'exit':>7} {'comm':>6} {'net':>9}  reason"
    )
    for t in data.get("trades", []):
        print(
            f"{t['id']:>4} {t['status']:<9} {t['bracket_status'] or '-':<19} {t['symbol']:<5} "
            f"{t['expiry'] or '-':<9} {t['strike'] or '-':>8} {t['quantity']:>3} "
            f"{t['entry_price'] or '-':>7} {t['exit_price'] or '-':>7} {t['commission']:>6} "
            f"{t['net_pnl'] or '-':>9}  {t['exit_reason'] or ''}"
        )


def _nt(args: argparse.Namespace) -> int:
    from engine.api.models import NtRun

    cmd = NtRun(dry_run=dry_run_flag(args), overrides=overrides_from_args(args))
    return _request(args, cmd, render_plan)


def _nt_watch(args: argparse.Namespace) -> int:
    from engine.api.models import NtWatch

    def render(data: dict[str, Any]) -> None:
        w = data.get("watch") or {}
        print(
            f"watch: {w.get('fills', 0)} new fills, opened {w.get('opened')}, closed "
            f"{[c.get('trade_id') for c in w.get('closed', [])]}"
        )
        render_status(data)

    return _request(args, NtWatch(), render, follow=args.interval if args.follow else None)


def _nt_status(args: argparse.Namespace) -> int:
    from engine.api.models import NtStatus

    return _request(args, NtStatus(), render_status)
